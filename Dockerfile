# syntax=docker/dockerfile:1
# One image recipe for all four services; the build argument APP picks which one:
#   docker build --build-arg APP=api-gateway    -t cap/api-gateway .
#   docker build --build-arg APP=local-store    -t cap/local-store .
#   docker build --build-arg APP=staging-sync   -t cap/staging-sync .
#   docker build --build-arg APP=cloud-executor -t cap/cloud-executor .
# Configuration is environment variables only: see apps/<app>/.env.example (docker-compose.yml wires them).

# ---- build: full dependency tree, esbuild bundle of apps/$APP (libs bundled in, npm packages external) ----
FROM node:20-bookworm-slim AS build
ARG APP
WORKDIR /app
RUN case "$APP" in \
      api-gateway|local-store|staging-sync|cloud-executor) ;; \
      *) echo "build with --build-arg APP=<api-gateway|local-store|staging-sync|cloud-executor> (got '$APP')" >&2; exit 2 ;; \
    esac
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN node infra/scripts/build-app.mjs "$APP"

# ---- deps: production dependencies only (what the bundle imports at run time) ----
FROM node:20-bookworm-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM node:20-bookworm-slim AS runtime
ARG APP
# APP stays in the environment: CMD and HEALTHCHECK below read it at run time.
ENV NODE_ENV=production \
    APP=${APP}
WORKDIR /app
# Owned by root and read-only for the service user: the process cannot modify its own code.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# main.js, its source map and (local-store, cloud-executor) the migrations/ folder it finds beside itself.
COPY --from=build /app/dist/apps/${APP} ./dist/apps/${APP}
USER node
# 8080 api-gateway, 8081 local-store, 8082 staging-sync, 8083 cloud-executor (HTTP_PORT defaults).
EXPOSE 8080 8081 8082 8083
# The services drain on SIGTERM within SHUTDOWN_TIMEOUT_MS (default 15 s): give them longer than that
# before the kill (docker stop -t 20, compose stop_grace_period, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# /readyz answers 200 once every dependency answers, 503 otherwise (and from the start of a shutdown).
# No curl in slim images: node's fetch. HTTP_PORT falls back to the app's own default, as config.ts does;
# the check goes to 127.0.0.1, so HTTP_HOST must stay 0.0.0.0 (its default) or 127.0.0.1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const port = process.env.HTTP_PORT || { 'api-gateway': 8080, 'local-store': 8081, 'staging-sync': 8082, 'cloud-executor': 8083 }[process.env.APP]; fetch('http://127.0.0.1:' + port + '/readyz', { signal: AbortSignal.timeout(4000) }).then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1));"]
# Exec form cannot expand variables, so a shell expands APP and then `exec`s node: node becomes PID 1
# and receives SIGTERM itself (no shell in between swallowing it).
# dist/apps/<app>/node-flags holds the app's V8 flags (infra/scripts/build-app.mjs): word-split on purpose.
CMD ["sh", "-c", "exec node $(cat \"dist/apps/${APP}/node-flags\") --enable-source-maps \"dist/apps/${APP}/main.js\""]
