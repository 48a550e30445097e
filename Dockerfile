# The Gofer service image: `gofer service start` (API and worker roles), configured by GOFER_* variables.
#
#   docker build -t gofer .          builds everything inside the image (default target `runtime`)
#   docker run --rm gofer --help     the image runs the `gofer` program; its default command is `service start`
#
# Two final targets share one runtime stage setup (`base`: user, env, ports, healthcheck, entrypoint)
# and one /app layout; they differ only in where /app comes from:
#
#   runtime (default, last)  the `build` stage: npm ci, npm run build, npm prune --omit=dev, in the image.
#   runtime-prebuilt         the build context itself IS /app, already built on the host. It runs no
#                            npm, so it builds from a base image without npm and with no registry in
#                            reach. That is how CI proves this Dockerfile (test/image/image.spec.ts):
#                            after `npm ci && npm run build` on the host, the test lays out /app in a
#                            scratch directory (test/image/prebuilt-context.ts) and runs
#                              docker build -f Dockerfile --build-arg NODE_IMAGE=gofer-test/node:20 \
#                                --target runtime-prebuilt <that directory>
#                            The host's native modules must suit the base image (same libc and CPU),
#                            which holds in CI because that base is made from the host's own node.
#
# /app holds only what runs: package.json (type, version), package-lock.json, node_modules (production
# dependencies; @gofer/* link to ../../libs/*), libs/*/package.json + libs/*/dist, apps/*/dist (the web UI's in apps/web/dist),
# proto/ (loaded at run time). The `build` stage and test/image/prebuilt-context.ts must agree on it.
#
# Stage order matters to the legacy builder, which builds every stage before its target: nothing
# before `runtime-prebuilt` needs npm. BuildKit builds only the stages a target needs. No `# syntax=`
# line on purpose: it would make BuildKit pull a frontend image.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------- base
FROM ${NODE_IMAGE} AS base
# The only directory the service writes to (fs:// object store: archived task logs). Owned by the
# runtime user, so a fresh named volume mounted here starts with that ownership.
RUN mkdir -p /var/lib/gofer/objects && chown -R 1000:1000 /var/lib/gofer
# GOFER_DEV_SERVICES=off: inside a container, "nothing answers on 127.0.0.1:5432" says nothing about
# the host, so the image never starts Postgres or Redis of its own (README "The two commands").
ENV NODE_ENV=production \
    GOFER_DEV_SERVICES=off \
    GOFER_GRPC_ADDR=0.0.0.0:8080 \
    GOFER_HTTP_ADDR=0.0.0.0:8081 \
    GOFER_OBJECT_STORE=fs:///var/lib/gofer/objects
WORKDIR /app
# 8080: gRPC API. 8081: HTTP (/healthz, /readyz, webhooks).
EXPOSE 8080 8081
# Node's own fetch, so the image needs no curl. Probes the host of GOFER_HTTP_ADDR (loopback when the
# service listens on all interfaces).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const a=process.env.GOFER_HTTP_ADDR||'127.0.0.1:8081',i=a.lastIndexOf(':'),h=a.slice(0,i);fetch('http://'+(h==='0.0.0.0'||h==='[::]'||h===''?'127.0.0.1':h)+':'+a.slice(i+1)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Not root. Numeric, so it also works in base images without a passwd entry (uid 1000 is `node` in
# the official images). The worker role starts task containers through the Docker socket, which this
# user can open only when given the socket's group:
#   docker run --group-add "$(stat -c %g /var/run/docker.sock)" -v /var/run/docker.sock:/var/run/docker.sock …
# or run workers as root (`--user 0`); access to the Docker socket is root on the host either way.
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
# --ignore-scripts: the project approves no dependency install scripts (package.json "allowScripts").
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY .swcrc ./
COPY scripts scripts
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
