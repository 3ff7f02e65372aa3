# Every model server image, from one Dockerfile: which app runs, which model it serves and on which
# TensorFlow.js backend are build arguments. Build from the repository root (see deploy/README.md, "Images"):
#
#   docker build -f deploy/docker/model-server.Dockerfile --build-arg APP=question-topic \
#     --build-arg MODEL=question-topic --build-arg TFJS_BACKEND=wasm -t modeldock/question-topic:wasm .
#   docker build -f deploy/docker/model-server.Dockerfile --target server \
#     --build-arg TFJS_BACKEND=tensorflow -t modeldock/model-server:1.0.0-tensorflow .
#
# Targets:
#   cpu (default) the server with models/<MODEL>/ inside (compose, `docker run`), native TensorFlow or wasm.
#   gpu           the same on CUDA (tfjs-node-gpu).
#   server        the server without a model, for Kubernetes: each model version comes from its own model
#                 image (deploy/docker/model.Dockerfile) or a volume, and the pod sets MODEL_DIR.
#   server-gpu    the same on CUDA.
#
# Build arguments:
#   APP           apps/<APP> is the server: `model-server` (the generic server) or `question-topic` (the
#                 generic server plus its seed route). Both read MODEL_* settings.
#   MODEL         models/<MODEL>/ is copied into the cpu and gpu images and is their default model folder,
#                 so `docker run` works alone; compose mounts the models folder over it.
#   TFJS_BACKEND  `tensorflow` (tfjs-node native addon; the build downloads libtensorflow) or `wasm`
#                 (no native code; builds offline). Ignored by the gpu targets, which are native.
#   CUDA_IMAGE    base of the gpu targets (default below); NVIDIA deletes end-of-life tags, so pin
#                 a mirror or digest with --build-arg CUDA_IMAGE=... when it is gone.
# Only models/<MODEL>/ of the build context reaches an image, in its last layer: a changed model re-runs
# `turbo prune` (cheap) and that layer, never the install or build layers, whose inputs (turbo's pruned
# output) are unchanged.
#
# Stages follow turborepo's examples/with-docker: prune -> install from out/json -> build -> deploy
# -> runtime. No `# syntax=` line on purpose: it would pull docker/dockerfile from a registry; the
# builtin frontend (BuildKit >= 0.8) supports RUN --mount cache mounts.

ARG NODE_IMAGE=node:20-bookworm-slim
# libtensorflow 2.9 (tfjs-node-gpu 4.22) needs CUDA 11 + cuDNN 8; 11.8 is the last CUDA 11 and
# Ubuntu 22.04 is still supported. Override with --build-arg CUDA_IMAGE=... (e.g. a registry mirror).
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04

FROM ${NODE_IMAGE} AS node-image

FROM node-image AS base
# Same pnpm as the repo's "packageManager" (corepack's signature check fails offline, npm works).
ARG PNPM_VERSION=12.4.2
ENV TURBO_TELEMETRY_DISABLED=1 \
    DO_NOT_TRACK=1 \
    CI=1
RUN --mount=type=cache,id=modeldock-npm,target=/root/.npm \
    npm install --global --no-fund --no-audit "pnpm@${PNPM_VERSION}"

FROM base AS prune
ARG TURBO_VERSION=2.11.11
RUN --mount=type=cache,id=modeldock-npm,target=/root/.npm \
    npm install --global --no-fund --no-audit "turbo@${TURBO_VERSION}"
WORKDIR /repo
COPY . .
# Declared here, not above: every image shares the layers before its first use.
ARG APP=model-server
# out/json: manifests + lockfile + pnpm-workspace.yaml (catalog, overrides, allowBuilds) of the app
# and its workspace dependencies only; out/full: their sources. /repo/out/package-name: for later stages.
RUN set -eu; \
    test -f "apps/${APP}/package.json" || { echo "APP must name a folder of apps/ (model-server, question-topic), got '${APP}'" >&2; exit 1; }; \
    name="$(node -p "require('./apps/${APP}/package.json').name")"; \
    turbo prune "${name}" --docker; \
    printf '%s' "${name}" > out/package-name

# The model the cpu and gpu images carry: models/<MODEL>/, checked.
FROM node-image AS model-files
ARG MODEL
COPY models/ /models/
RUN set -eu; \
    test -n "${MODEL:-}" || { echo "set --build-arg MODEL=<folder of models/>, e.g. MODEL=question-topic (or build --target server)" >&2; exit 1; }; \
    ls -d /models/"${MODEL}"/[0-9]* >/dev/null 2>&1 || { echo "models/${MODEL}/<version>/ not found in the build context" >&2; exit 1; }; \
    mkdir /model && cp -R /models/"${MODEL}"/. /model/

FROM base AS build
WORKDIR /repo
COPY --from=prune /repo/out/json/ ./
# Installs only change when a manifest or the lockfile does, so this layer survives source edits.
# Native addon scripts stay disabled here (allowBuilds in pnpm-workspace.yaml); the addon stages
# below run the one their image needs.
RUN --mount=type=cache,id=modeldock-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --store-dir /pnpm/store
COPY --from=prune /repo/out/full/ ./
COPY --from=prune /repo/out/package-name ./package-name
RUN pnpm exec turbo run build --filter="$(cat package-name)"

FROM build AS deploy
# wasm: no optional dependencies at all (no tfjs-node*), the runtime uses tfjs-backend-wasm;
# tensorflow (and the gpu target): optional dependencies deployed, addons installed further down.
ARG TFJS_BACKEND=tensorflow
RUN --mount=type=cache,id=modeldock-pnpm-store,target=/pnpm/store \
    set -eu; \
    case "${TFJS_BACKEND}" in \
      tensorflow) optional="" ;; \
      wasm) optional="--no-optional" ;; \
      *) echo "TFJS_BACKEND must be 'tensorflow' or 'wasm', got '${TFJS_BACKEND}'" >&2; exit 1 ;; \
    esac; \
    pnpm --filter "$(cat package-name)" deploy --prod ${optional} --store-dir /pnpm/store /out
# Trim what Node never loads: source maps, TypeScript sources/declarations, docs, the browser and
# WeChat mini-program bundles and compiled tests of TF.js (Node resolves `main`, *.node.js).
RUN set -eu; \
    cd /out/node_modules/.pnpm; \
    find . -type f \( -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' \
      -o -name '*.md' -o -name '*.markdown' \) -delete; \
    find . -type d -name miniprogram -path '*/@tensorflow*' -prune -exec rm -rf {} +; \
    find . -type f -path '*/@tensorflow*/dist/*' \( -name '*.min.js' -o -name '*.es2017.js' \
      -o -name '*.fesm.js' -o -name '*.esm.js' -o -name '*_test.js' \) -delete

FROM deploy AS cpu-modules
# tensorflow: tfjs-node's install script downloads libtensorflow (CPU) and its N-API binding; the
# addon must load before the image is accepted.
RUN set -eu; \
    rm -rf /out/node_modules/@tensorflow/tfjs-node-gpu; \
    if [ -d /out/node_modules/@tensorflow/tfjs-node ]; then \
      (cd /out/node_modules/@tensorflow/tfjs-node && npm run install) || { \
        echo "tfjs-node's install script failed: it downloads libtensorflow from storage.googleapis.com." >&2; \
        echo "Without access to it, build with --build-arg TFJS_BACKEND=wasm." >&2; exit 1; }; \
      (cd /out && node -e "require('@tensorflow/tfjs-node')"); \
    fi

# Node 20 on the CUDA base: the official Node binary (glibc >= 2.28; Ubuntu 22.04 has 2.35), copied
# from the Node image instead of downloading it again.
FROM ${CUDA_IMAGE} AS cuda-node
COPY --from=node-image /usr/local/bin/node /usr/local/bin/node
RUN node --version

FROM cuda-node AS gpu-modules
# npm runs tfjs-node-gpu's install script (libtensorflow-gpu + prebuilt N-API binding) on the CUDA
# base, so the addon links against that image's libraries; npm stays in this stage only.
COPY --from=node-image /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
COPY --from=deploy /out /out
RUN set -eu; \
    test -d /out/node_modules/@tensorflow/tfjs-node-gpu || { \
      echo "the gpu target needs the optional native dependencies: build it with TFJS_BACKEND=tensorflow (the default)" >&2; exit 1; }; \
    rm -rf /out/node_modules/@tensorflow/tfjs-node; \
    (cd /out/node_modules/@tensorflow/tfjs-node-gpu && npm run install) || { \
      echo "tfjs-node-gpu's install script failed: it downloads libtensorflow-gpu from storage.googleapis.com." >&2; exit 1; }; \
    cd /out && node -e "require('@tensorflow/tfjs-node-gpu')"

# Ports stay the apps' default (8501); the health checks follow MODEL_PORT when it is set at run time.
FROM cuda-node AS server-gpu
ARG APP=model-server
ENV NODE_ENV=production \
    MODEL_BACKEND=tensorflow \
    MODEL_DEVICE=gpu \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
LABEL org.opencontainers.image.title="modeldock ${APP} server (gpu)"
# UID/GID 1000 `node`, as in the Node image (unless the base already has a user 1000).
RUN id -u 1000 >/dev/null 2>&1 || { groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --no-create-home --shell /usr/sbin/nologin node; }
WORKDIR /app
# Root-owned and read-only for the service user: the process cannot modify its code or model.
COPY --from=gpu-modules /out/package.json ./package.json
COPY --from=gpu-modules /out/node_modules ./node_modules
COPY --from=gpu-modules /out/dist ./dist
USER 1000:1000
EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=5s --start-period=180s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MODEL_PORT||8501)+'/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

FROM server-gpu AS gpu
ARG APP=model-server
ARG MODEL
ENV MODEL_DIR=/app/models/${MODEL}
LABEL org.opencontainers.image.title="modeldock ${APP}: ${MODEL} (gpu)"
COPY --from=model-files /model/ /app/models/${MODEL}/

FROM node-image AS server
ARG APP=model-server
ARG TFJS_BACKEND=tensorflow
ENV NODE_ENV=production \
    MODEL_BACKEND=${TFJS_BACKEND} \
    MODEL_DEVICE=cpu
LABEL org.opencontainers.image.title="modeldock ${APP} server (${TFJS_BACKEND})"
WORKDIR /app
# Root-owned and read-only for the service user: the process cannot modify its code or model.
COPY --from=cpu-modules /out/package.json ./package.json
COPY --from=cpu-modules /out/node_modules ./node_modules
COPY --from=cpu-modules /out/dist ./dist
# 1000 is the `node` user of the official image; numeric so Kubernetes runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8501
# Ready (not just live), so `docker compose up --wait` and depends_on service_healthy mean "model
# loaded and warm". Slim images have no curl: Node's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=5s --start-period=180s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MODEL_PORT||8501)+'/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

# The default target (last stage): the server with its model, CPU, native TensorFlow or wasm.
FROM server AS cpu
ARG APP=model-server
ARG MODEL
ARG TFJS_BACKEND=tensorflow
ENV MODEL_DIR=/app/models/${MODEL}
LABEL org.opencontainers.image.title="modeldock ${APP}: ${MODEL} (${TFJS_BACKEND})"
COPY --from=model-files /model/ /app/models/${MODEL}/
