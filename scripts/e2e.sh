#!/usr/bin/env bash
# End-to-end test of the containerised stack (see test/e2e/stack.test.mjs): builds the wasm images,
# starts the gateway + 2 question-topic + 2 sentence-embedding replicas under a unique compose
# project, runs the checks and removes the project. The traps remove it too when this script is
# interrupted or terminated.
set -euo pipefail
cd "$(dirname "$0")/.."

export MODELDOCK_E2E_PROJECT="${MODELDOCK_E2E_PROJECT:-modeldock-e2e-$$-$(date +%s)}"
child=""
cleanup() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
  docker compose --file docker-compose.yml --project-name "$MODELDOCK_E2E_PROJECT" \
    down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# In the background so a signal interrupts `wait` (bash defers traps while a foreground child runs).
# Default reporter: TAP when piped, whose "# pass N" / "# fail N" lines .ci/run adds up.
node --test test/e2e/ &
child=$!
status=0
wait "$child" || status=$?
child=""
exit "$status"
