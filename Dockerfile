# The Handled API, as a slim production image.
#   docker build -t handled .
#   docker run -e DATABASE_URL=postgresql://user:pass@host:5432/db -p 4000:4000 handled
# It needs DATABASE_URL (the embedded PostgreSQL is for development and is not in the image).

# 1. Build: every dependency, generated code, TypeScript compiled to dist/.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The SDK is a workspace of the project (npm ci wants its package.json); its operations are the
# documents the server trusts (HANDLED_TRUSTED_DOCUMENTS), so the build generates from them.
COPY sdk/package.json ./sdk/
# No dependency needs its install scripts to build; the project's own postinstall is run by build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY prisma ./prisma
COPY scripts ./scripts
COPY schema.graphql codegen.ts prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY sdk ./sdk
# The results browser, built by Vite into dist/ui and served at /.
COPY ui ./ui
RUN npm run build

# 2. What runs: production dependencies only (no Prisma CLI, TypeScript or embedded PostgreSQL).
FROM node:22-bookworm-slim AS runtime-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY sdk/package.json ./sdk/
# Prisma's client ships query compilers for five databases; only PostgreSQL's "fast" one is used.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --workspaces=false \
  && npm cache clean --force \
  && find node_modules/@prisma/client/runtime -name 'query_compiler_*' ! -name 'query_compiler_fast_bg.postgresql*' -delete \
  && find node_modules -name '*.map' -delete

# 3. The image: those dependencies, the compiled service, its schema and migrations; no npm cache,
#    no sources or tests; runs as the unprivileged `node` user.
FROM node:22-bookworm-slim
# Listening on every interface, so API keys are required; /metrics has a port of its own, to keep
# off the public network.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 HANDLED_METRICS_PORT=9464 HANDLED_DATA_DIR=/data
WORKDIR /app
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json schema.graphql ./
COPY prisma/migrations ./prisma/migrations
RUN mkdir /data && chown node:node /data
USER node
EXPOSE 4000 9464
# Ready: the database answers, is migrated, and the service is not stopping.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains (HANDLED_SHUTDOWN_TIMEOUT_MS, 25 s by default): keep Docker's stop timeout above it.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
