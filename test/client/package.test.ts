import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import ts from "typescript";
import { describe, expect } from "vitest";
import { test } from "../support/fixtures.js";

// The SDK as a user gets it: `npm pack` of sdk/, installed from the tarball into a new project,
// used from TypeScript as ES modules (nodenext) and as CommonJS (node16), and from plain
// JavaScript; each runs the README's example against the real service.

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const expected = ['extract SUCCESS (13 bytes: {"rows":1200})', "summarise PENDING (no result)"].join("\n");

/** A program that runs the example against the URL it is given, and prints what it returns. */
const main = (load: string) => `${load}
example(process.argv[2]).then((text) => console.log(text), (error) => { console.error(error); process.exit(1); });
`;

describe("the SDK's package", () => {
  test("installs from its tarball and runs the README's example from ESM and CommonJS TypeScript and from JavaScript", async ({
    t,
    tempDir,
  }) => {
    const dir = await tempDir("handled-sdk-");
    const { stdout } = await run("npm", ["pack", "--workspace", "sdk", "--pack-destination", dir, "--json"], {
      cwd: root,
    });
    const [packed] = JSON.parse(stdout) as { filename: string; size: number; entryCount: number }[];
    const manifest = JSON.parse(await readFile(join(root, "sdk", "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      scripts?: Record<string, string>;
    };
    const dependencies = Object.keys(manifest.dependencies);
    console.log(
      `@handled/client tarball: ${(packed!.size / 1024).toFixed(1)} KB, ${packed!.entryCount} files, ` +
        `${dependencies.length} runtime dependencies (${dependencies.join(", ")})`,
    );
    expect(packed!.size).toBeLessThan(150 * 1024);
    expect(dependencies.length).toBeLessThanOrEqual(3);
    expect(Object.keys(manifest.scripts ?? {}).filter((name) => /install/.test(name))).toEqual([]);

    // One install for the three consumers below it: Node and TypeScript look up the folders.
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "consumers", private: true }));
    await run(
      "npm",
      ["install", join(dir, packed!.filename), "@types/node@22", "--no-audit", "--no-fund", "--prefer-offline"],
      { cwd: dir },
    );
    const source = await readFile(join(root, "examples", "sdk.ts"), "utf8");
    const consumers = {
      "ts-esm": {
        type: "module",
        module: "nodenext",
        file: "example.ts",
        main: 'import { example } from "./example.js";',
      },
      "ts-cjs": {
        type: "commonjs",
        module: "node16",
        file: "example.ts",
        main: 'import { example } from "./example";',
      },
    };
    const outputs: Record<string, string> = {};
    for (const [name, consumer] of Object.entries(consumers)) {
      const project = join(dir, name);
      await mkdir(project);
      await writeFile(join(project, "package.json"), JSON.stringify({ name, private: true, type: consumer.type }));
      await writeFile(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module: consumer.module,
            moduleResolution: consumer.module,
            target: "ES2022",
            strict: true,
            types: ["node"],
            outDir: "dist",
          },
          include: ["*.ts"],
        }),
      );
      await writeFile(join(project, consumer.file), source);
      await writeFile(join(project, "main.ts"), main(consumer.main));
      // Type-checks against the package's own types (for require, its CommonJS ones), and builds.
      await run(process.execPath, [tsc, "-p", project]);
      outputs[name] = (await run(process.execPath, [join(project, "dist", "main.js"), t.app.url])).stdout.trim();
    }
    // Plain JavaScript (CommonJS, require): the example with its types taken out.
    const js = join(dir, "js");
    await mkdir(js);
    const plain = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    await writeFile(join(js, "example.js"), plain);
    await writeFile(join(js, "main.js"), main('const { example } = require("./example.js");'));
    expect(plain).toContain('require("@handled/client")');
    outputs.js = (await run(process.execPath, [join(js, "main.js"), t.app.url])).stdout.trim();

    expect(outputs).toEqual({ "ts-esm": expected, "ts-cjs": expected, js: expected });
  });
});
