# One model version as an image of its own: only models/<MODEL>/<VERSION>/ (at the same path) and a static
# busybox, whose `cp` the pod's init container runs to copy the version into the pod's models volume
# (deploy/k8s/model-server/deployment.yaml). A new version is a new small image; the server image stays.
# Build from the repository root:
#
#   docker build -f deploy/docker/model.Dockerfile --build-arg MODEL=question-topic --build-arg VERSION=2 \
#     -t modeldock/question-topic-model:2 .
#
# The tag is the version: a version folder never changes once shipped (train a new version instead), so the
# tag pins its content as the manifests' `modeldock/<model>-model:<version>` expects.

ARG NODE_IMAGE=node:20-bookworm-slim

# models/<MODEL>/<VERSION>/ of the build context, checked.
FROM ${NODE_IMAGE} AS files
ARG MODEL
ARG VERSION
COPY models/ /models/
RUN set -eu; \
    { test -n "${MODEL:-}" && test -n "${VERSION:-}"; } || { echo "set --build-arg MODEL=<folder of models/> --build-arg VERSION=<its version folder>" >&2; exit 1; }; \
    test -f "/models/${MODEL}/${VERSION}/metadata.json" || { echo "models/${MODEL}/${VERSION}/metadata.json not found in the build context" >&2; exit 1; }; \
    mkdir -p "/out/models/${MODEL}"; \
    cp -R "/models/${MODEL}/${VERSION}" "/out/models/${MODEL}/${VERSION}"; \
    chmod -R a+rX /out

# One static binary (Debian's busybox-static) for the copy: the image has no shell, libc or package manager.
FROM ${NODE_IMAGE} AS busybox
RUN apt-get update \
 && apt-get install --yes --no-install-recommends busybox-static \
 && rm -rf /var/lib/apt/lists/*

FROM scratch
ARG MODEL
ARG VERSION
LABEL org.opencontainers.image.title="modeldock model ${MODEL} version ${VERSION}"
COPY --from=busybox /bin/busybox /bin/busybox
COPY --from=files /out/models/ /models/
USER 1000:1000
# What the init container runs: the version, under /models/<MODEL>/<VERSION>/, into the volume at /mnt/models.
ENTRYPOINT ["/bin/busybox", "cp", "-R", "/models/.", "/mnt/models/"]
