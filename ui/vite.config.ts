import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

// The results browser: Preact, bundled by Vite into dist/ui, which the API serves at `/`. Built
// by `npm run build`; nothing is loaded from elsewhere at run time.

const outDir = fileURLToPath(new URL("../dist/ui", import.meta.url));

/** Gzip and Brotli copies of each text file, which the API sends to browsers that take them. */
function precompress(): Plugin {
  return {
    name: "handled-precompress",
    apply: "build",
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
          entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
        );
      for (const file of walk(outDir).filter((name) => /\.(js|css|html|svg)$/.test(name))) {
        const bytes = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(bytes, { level: 9 }));
        writeFileSync(`${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  // Relative URLs: the page works wherever the API is mounted (behind a path prefix too).
  base: "./",
  resolve: {
    alias: {
      "@handled/client": fileURLToPath(new URL("../sdk/src/index.ts", import.meta.url)),
    },
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    // One script and one stylesheet: nothing to preload.
    modulePreload: false,
    reportCompressedSize: false,
    rolldownOptions: {
      // The SDK's documents are made with `new TypedDocumentString(...)`: pure, so the ones the
      // page does not use are left out (the page would otherwise carry every operation's text).
      treeshake: { manualPureFunctions: ["TypedDocumentString"] },
    },
  },
  plugins: [precompress()],
  logLevel: "warn",
});
