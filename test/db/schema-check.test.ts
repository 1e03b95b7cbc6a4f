import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";

/** Runs `npm run db:check` (Prisma Migrate's diff of migrations against schema.prisma). */
function check(env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["tools/prisma-migrate/run.mjs", "check"], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: inject("serverUrl"), ...env },
  });
}

describe("schema.prisma and prisma/migrations", () => {
  it("agree: applying every migration gives exactly the schema", () => {
    const result = check();
    expect(result.stderr + result.stdout).toMatch(/No difference detected/);
    expect(result.status).toBe(0);
  });

  it("are caught disagreeing when the schema changes without a migration", async () => {
    const dir = await mkdtemp(join(tmpdir(), "handled-schema-"));
    try {
      const schema = (await readFile("prisma/schema.prisma", "utf8")).replace(
        /^(\s*)message(\s+)String\?.*$/m,
        "$&\n$1extra$2Int?",
      );
      await writeFile(join(dir, "schema.prisma"), schema);

      const result = check({ SCHEMA_FILE: join(dir, "schema.prisma") });

      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/disagree/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
