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
RUN npm ci && npm run build && npm prune --omit=dev
RUN mkdir /data && chown node:node /data
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 HANDLED_DATA_DIR=/data
EXPOSE 4000
USER node
CMD ["node", "dist/main.js"]
