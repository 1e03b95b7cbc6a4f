import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // The SDK's entry point, as a consumer imports it, resolved to its source (as in tsconfig).
  resolve: {
    alias: [
      {
        find: "@handled/client/documents",
        replacement: fileURLToPath(new URL("./sdk/src/documents.ts", import.meta.url)),
      },
      { find: "@handled/client", replacement: fileURLToPath(new URL("./sdk/src/index.ts", import.meta.url)) },
      // graphql-js as Node loads it for the packages that build and run the schema
      // (@graphql-tools/schema, graphql-sse): one copy, as in production, not also its ES module
      // build, whose functions refuse the other copy's schema.
      { find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file gets its own database, so files can run in parallel.
    fileParallelism: true,
  },
});
