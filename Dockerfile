# syntax=docker/dockerfile:1
# redis-probe container image.
#   docker build -t redis-probe:dev .
#   docker run --rm -p 9637:9637 -v "$PWD/config.yaml:/etc/redis-probe/config.yaml:ro" --read-only redis-probe:dev
#
# The base is pinned to an exact Node release (the one package-lock.json's `node`
# devDependency pins). For reproducible builds, also pin the digest:
#   FROM node:24.21.0-bookworm-slim@sha256:<digest>
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ ---------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script is the `node` devDependency's, which
# downloads a second Node for npm scripts; this image already has that Node on PATH.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only ----------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Root-owned and read-only to the process: works with readOnlyRootFilesystem.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# No shell-level init needed: node handles SIGTERM itself (graceful shutdown).
# Numeric non-root user, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 9637
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9637/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The package's bin, as `redis-probe` and `npm start` run it: it applies the memory settings (V8 flags,
# MALLOC_ARENA_MAX; src/commands/memory-settings.ts holds them) and replaces itself with `node <flags> dist/cli.js`, so
# the daemon is PID 1 and gets SIGTERM itself.
ENTRYPOINT ["node", "dist/bin.js"]
CMD ["run", "--config", "/etc/redis-probe/config.yaml"]
