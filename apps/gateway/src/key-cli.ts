// `pnpm gateway:key`: prints a new random API key once and the entry for the API keys file (only
// the key's SHA-256 is stored), or appends that entry to the file with --file.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hashKey, newKey, parseKeysFile } from './api-keys.js';

const USAGE = `Usage: pnpm gateway:key --id <id> --models <model,...|*> [--rate <per second> [--burst <n>]] [--pin-backends] [--file <keys.json>]
       pnpm gateway:key --admin

Prints a new random API key (shown once: only its SHA-256 is kept) and the entry for the file that
GATEWAY_API_KEYS_FILE names. With --file the entry is added to that file (created if missing), and the
running gateway picks it up within seconds. --pin-backends lets the key choose a model's backend with
x-modeldock-backend (to try a candidate before it gets a share of the traffic). --admin prints a key for the admin listener and the value
of GATEWAY_ADMIN_API_KEY_SHA256.`;

function fail(message: string): never {
  console.error(`gateway:key: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function main(argv: readonly string[]): void {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv.filter((arg) => arg !== '--'),
      options: {
        id: { type: 'string' },
        models: { type: 'string' },
        rate: { type: 'string' },
        burst: { type: 'string' },
        file: { type: 'string' },
        'pin-backends': { type: 'boolean' },
        admin: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const key = newKey();
  const sha256 = hashKey(key).toString('hex');
  if (values.admin === true) {
    console.log(`admin key (shown once; keep it where Prometheus or you can read it):\n${key}\n\nGATEWAY_ADMIN_API_KEY_SHA256=${sha256}`);
    return;
  }
  if (values.id === undefined || values.models === undefined) fail('--id and --models are required');
  const models = values.models
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  const entry: Record<string, unknown> = { id: values.id, sha256, models };
  if (values.rate !== undefined) entry.ratePerSecond = Number(values.rate);
  if (values.burst !== undefined) {
    if (values.rate === undefined) fail('--burst needs --rate');
    entry.burst = Number(values.burst);
  }
  if (values['pin-backends'] === true) entry.pinBackends = true;
  // The entry goes through the gateway's own check, so a file this writes is one the gateway accepts.
  try {
    parseKeysFile(JSON.stringify({ keys: [entry] }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values.file === undefined) {
    console.log(`key (shown once; give it to its user):\n${key}\n\nentry for the keys file:\n${JSON.stringify(entry)}`);
    return;
  }
  const file = path.resolve(process.env.INIT_CWD ?? process.cwd(), values.file);
  try {
    const current = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { keys?: unknown }) : { keys: [] };
    const existing: unknown[] = Array.isArray(current.keys) ? (current.keys as unknown[]) : [];
    const next = { keys: [...existing, entry] };
    parseKeysFile(JSON.stringify(next));
    // Written beside and renamed over, so the gateway never reads half a file.
    writeFileSync(`${file}.tmp`, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch (err) {
    fail(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  console.error(`added '${values.id}' to ${file}; the key (shown once):`);
  console.log(key);
}

main(process.argv.slice(2));
