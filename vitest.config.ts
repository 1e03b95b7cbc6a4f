import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // The SDK's entry point, as a consumer imports it, resolved to its source (as in tsconfig).
  resolve: {
    alias: {
      "@handled/client/documents": fileURLToPath(new URL("./sdk/src/documents.ts", import.meta.url)),
      "@handled/client": fileURLToPath(new URL("./sdk/src/index.ts", import.meta.url)),
    },
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
