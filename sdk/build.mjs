// Builds the package: ES modules in dist/esm, CommonJS in dist/cjs (each with its types), and the
// list of its operations by documentId. Run from the repository's root by `npm run build`.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const tsc = join(here, "..", "node_modules", "typescript", "bin", "tsc");

rmSync(join(here, "dist"), { recursive: true, force: true });
for (const project of ["tsconfig.json", "tsconfig.cjs.json"]) {
  const result = spawnSync(process.execPath, [tsc, "-p", join(here, project)], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
// The package is "type": "module"; this folder's files are CommonJS.
writeFileSync(join(here, "dist", "cjs", "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
mkdirSync(join(here, "dist"), { recursive: true });
copyFileSync(
  join(here, "src", "generated", "persisted-documents.json"),
  join(here, "dist", "persisted-documents.json"),
);
