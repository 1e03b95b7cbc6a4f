// Writes every generated file: the Prisma client (src/generated/prisma), the resolver types
// (src/generated/graphql.ts) and the SDK's types and documents (src/client/generated/).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

function run(command, args, env = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", env: { ...process.env, ...env } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// `prisma generate` looks for the native schema engine (and would try to download it) though
// generating never runs it; any existing file satisfies the lookup.
run("npx", ["--no-install", "prisma", "generate"], {
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? fileURLToPath(import.meta.url),
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
});
run("npx", ["--no-install", "graphql-codegen", "--config", "codegen.ts", "--silent"]);
