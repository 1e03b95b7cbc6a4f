import { describe, expect } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { createPrismaClient } from "../../src/db/database.js";
import { taskRunQueries } from "../../src/db/task-runs.js";
import { test } from "../support/fixtures.js";

// The hot statements are prepared once per connection and then run by name, so PostgreSQL does
// not parse and plan them again on every request; a pooler that cannot keep prepared statements
// gets them whole with HANDLED_DB_PREPARED_STATEMENTS=false.
describe("hot statements", () => {
  test("are prepared once per connection, or sent whole when prepared statements are off", async ({ t }) => {
    expect(loadConfig({}).preparedStatements).toBe(true);
    expect(loadConfig({ HANDLED_DB_PREPARED_STATEMENTS: "false" }).preparedStatements).toBe(false);
    const prepared: Record<string, string[]> = {};
    for (const preparedStatements of [true, false]) {
      // One connection: what it has prepared is what pg_prepared_statements shows it.
      const { prisma, pool } = createPrismaClient(t.config.databaseUrl!, { max: 1, preparedStatements });
      try {
        const taskRuns = taskRunQueries(pool);
        const scope = { projectId: "00000000-0000-4000-8000-000000000000" };
        for (let i = 0; i < 3; i++) expect(await taskRuns.byIds(scope, [scope.projectId])).toEqual([]);
        const { rows } = await pool.query<{ name: string }>("SELECT name FROM pg_prepared_statements ORDER BY name");
        prepared[String(preparedStatements)] = rows.map((row) => row.name);
      } finally {
        await prisma.$disconnect();
        if (!pool.ended) await pool.end();
      }
    }
    expect(prepared).toEqual({ true: ["task-runs-by-ids"], false: [] });
  });
});
