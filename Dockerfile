# The Handled API. Build: docker build -t handled .
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY tools/prisma-migrate/package.json tools/prisma-migrate/package-lock.json tools/prisma-migrate/
COPY prisma ./prisma
COPY scripts ./scripts
COPY schema.graphql codegen.ts prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY test ./test
# Build, then keep only what runs: production dependencies, dist, schema.graphql, migrations.
# Dependencies install without their own install scripts (none is needed to build or run); the
# project's postinstall then installs the migration tool and generates the clients.
RUN npm ci --ignore-scripts && npm run postinstall && npm run build && npm prune --omit=dev && rm -rf tools/prisma-migrate/node_modules
RUN mkdir /data && chown node:node /data
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 HANDLED_DATA_DIR=/data
EXPOSE 4000
USER node
CMD ["node", "dist/main.js"]
