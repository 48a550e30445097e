# The Gofer service image: `gofer service start` (API and worker roles), configured by GOFER_* variables.
#
#   docker build -t gofer .                    users: builds everything inside the image (target `runtime`)
#   docker run --rm gofer --help               the same program as the `gofer` CLI
#
# Two final targets, one runtime layout. Both start FROM `base` (user, env, ports, healthcheck,
# entrypoint) and both copy one prepared /app tree; they differ only in where that tree comes from:
#
#   runtime (default, last)  `build` stage: npm ci, npm run build, npm prune --omit=dev, inside the image.
#   runtime-prebuilt         `prebuilt` stage: the build context as the host already built it
#                            (`npm ci && npm run build` on the host), with dev dependencies removed by
#                            the lockfile's own "dev" flags. It runs no npm at all, so it works from a
#                            base image without npm and with no registry in reach. CI builds it from
#                            its local base (test/image/image.spec.ts):
#                              docker build --build-arg NODE_IMAGE=gofer-test/node:20 --target runtime-prebuilt .
#                            The host's native modules must suit the base image (same libc and CPU), which
#                            holds in CI because that base is made from the host's own node.
#
# Stages are ordered so that the legacy builder (which builds every stage before the target) reaches
# `runtime-prebuilt` without touching npm; BuildKit builds only the stages a target needs.
# No `# syntax=` line on purpose: it would make BuildKit pull a frontend image.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------- base
FROM ${NODE_IMAGE} AS base
# The only directory the service writes to (fs:// object store: archived task logs). Owned by the
# runtime user, so a fresh named volume mounted here inherits that ownership.
RUN mkdir -p /var/lib/gofer/objects && chown -R 1000:1000 /var/lib/gofer
ENV NODE_ENV=production \
    GOFER_GRPC_ADDR=0.0.0.0:8080 \
    GOFER_HTTP_ADDR=0.0.0.0:8081 \
    GOFER_OBJECT_STORE=fs:///var/lib/gofer/objects
WORKDIR /app
# 8080: gRPC API. 8081: HTTP (/healthz, /readyz, webhooks).
EXPOSE 8080 8081
# Node's own fetch, so the image needs no curl. Probes the host of GOFER_HTTP_ADDR (loopback when it
# listens on all interfaces).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const a=process.env.GOFER_HTTP_ADDR||'127.0.0.1:8081',i=a.lastIndexOf(':'),h=a.slice(0,i);fetch('http://'+(h==='0.0.0.0'||h==='[::]'||h===''?'127.0.0.1':h)+':'+a.slice(i+1)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Numeric, so it works in base images without a passwd entry for it (uid 1000 is `node` in the
# official images). The worker role talks to the Docker socket, which this user cannot open unless it
# is given the socket's group: `docker run --group-add "$(stat -c %g /var/run/docker.sock)" …`, or run
# workers as root (`--user 0`; access to the Docker socket is root-equivalent on the host anyway).
USER 1000:1000
ENTRYPOINT ["node", "/app/apps/gofer/dist/main.js"]
CMD ["service", "start"]

# ---------------------------------------------------------------------------- runtime-prebuilt
FROM base AS runtime-prebuilt
COPY . /app

# ----------------------------------------------------------------------------------- manifests
# Only libs/*/package.json, so the `npm ci` layer below is reused when nothing but sources changed.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY libs libs
RUN find libs -mindepth 2 -maxdepth 2 ! -name package.json -exec rm -rf {} +

# --------------------------------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY --from=manifests /src/libs libs
# --ignore-scripts: the project approves no install scripts (package.json "allowScripts").
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY .swcrc ./
COPY scripts/build.mjs scripts/
COPY proto proto
COPY libs libs
COPY apps apps
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && mkdir -p /app \
 && cp -a package.json package-lock.json node_modules proto /app/ \
 && for pkg in libs/* apps/*; do \
      mkdir -p "/app/$pkg" && cp -a "$pkg/dist" "/app/$pkg/" \
      && if [ -f "$pkg/package.json" ]; then cp "$pkg/package.json" "/app/$pkg/"; fi; \
    done

# ------------------------------------------------------------------------------------- runtime
FROM base AS runtime
COPY --from=build /app /app
