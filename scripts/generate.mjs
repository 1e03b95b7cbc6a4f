// Writes every generated file: the Prisma client (src/generated/prisma), the resolver types
// (src/generated/graphql.ts), the SDK's types and documents (sdk/src/generated/) and the
// list of its operations the server may trust (src/generated/trusted-documents.ts).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
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

// The SDK's operations, by the hash each carries (codegen's persisted-documents manifest), for
// the server: with HANDLED_TRUSTED_DOCUMENTS=only they are what keys without admin may run.
const manifest = JSON.parse(readFileSync("sdk/src/generated/persisted-documents.json", "utf8"));
writeFileSync(
  "src/generated/trusted-documents.ts",
  `// Written by scripts/generate.mjs from the SDK's operations (sdk/operations): do not edit.
/** Each operation the SDK ships, by the id it sends (\`documentId\`): its text, normalised. */
export const TRUSTED_DOCUMENTS: ReadonlyMap<string, string> = new Map(${JSON.stringify(Object.entries(manifest), null, 2)});
`,
);
