import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { cruise, type IViolation } from "dependency-cruiser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The layering of src/ is enforced by dependency-cruiser (`npm run lint`, part of `npm test`):
// these tests show its rules catch what they are there to catch.
const rules = createRequire(import.meta.url)("../../.dependency-cruiser.cjs") as { forbidden: unknown[] };

/** The rules' violations in a source tree made of `files` (path → content). */
async function violationsIn(
  root: string,
  files: Record<string, string>,
  folders = ["src"],
): Promise<Pick<IViolation, "rule" | "from" | "to">[]> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  const result = await cruise(folders, {
    baseDir: root,
    ruleSet: { forbidden: rules.forbidden } as never,
    tsPreCompilationDeps: true,
    validate: true,
  });
  if (typeof result.output === "string") throw new Error("expected the cruise result as an object");
  return result.output.summary.violations.map(({ rule, from, to }) => ({ rule, from, to }));
}

describe("the layers of src/", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "handled-layers-"));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it("refuse imports up the layers, across results and db, and of Prisma outside db", async () => {
    const violations = await violationsIn(root, {
      "src/config/config.ts": "export const config = 1;\n",
      "src/services/flows.ts": 'import { config } from "../config/config.ts";\nexport const flows = config;\n',
      "src/results/store.ts": 'import { config } from "../config/config.ts";\nexport const store = config;\n',
      "src/db/queries.ts": 'import { store } from "../results/store.ts";\nexport const queries = store;\n',
      "src/generated/prisma/client.ts": "export const prisma = 1;\n",
      "src/graphql/resolvers.ts": 'import { prisma } from "../generated/prisma/client.ts";\nexport const r = prisma;\n',
      "src/errors.ts": 'import { flows } from "./services/flows.ts";\nexport const e = flows;\n',
    });
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort()).toEqual(
      [
        "no-base-importing-up: src/errors.ts → src/services/flows.ts",
        "no-results-importing-up: src/results/store.ts → src/config/config.ts",
        "no-results-db-crossing: src/db/queries.ts → src/results/store.ts",
        "prisma-only-in-db: src/graphql/resolvers.ts → src/generated/prisma/client.ts",
      ].sort(),
    );
  });

  it("keep the SDK and the results browser off the server's code", async () => {
    const violations = await violationsIn(
      join(root, "clients"),
      {
        "src/errors.ts": "export const e = 1;\n",
        "sdk/src/index.ts": 'import { e } from "../../src/errors.ts";\nexport const sdk = e;\n',
        "ui/src/main.tsx":
          'import { e } from "../../src/errors.ts";\nimport { sdk } from "../../sdk/src/index.ts";\nexport const m = [e, sdk];\n',
      },
      ["sdk/src", "ui/src"],
    );
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort()).toEqual([
      "browser-through-sdk: ui/src/main.tsx → src/errors.ts",
      "client-stands-alone: sdk/src/index.ts → src/errors.ts",
    ]);
  });

  it("keep Prisma and the pool out of the GraphQL layer", async () => {
    const folder = new URL("../../src/graphql/", import.meta.url);
    for (const file of await readdir(folder)) {
      const source = await readFile(new URL(file, folder), "utf8");
      expect({ file, uses: source.match(/\b(prisma|pool)\./g) ?? [] }).toEqual({ file, uses: [] });
    }
  });
});
