import { describe, expect } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { openDatabase } from "../../src/db/database.js";
import { test } from "../support/fixtures.js";

describe("the connection pool", () => {
  test("opens at most HANDLED_DB_POOL_SIZE connections, however many statements wait", async ({ t }) => {
    expect(loadConfig({}).poolSize).toBe(10);
    expect(() => loadConfig({ HANDLED_DB_POOL_SIZE: "0" })).toThrow(/HANDLED_DB_POOL_SIZE/);
    const config = loadConfig({ DATABASE_URL: t.config.databaseUrl!, HANDLED_DB_POOL_SIZE: "2" });
    const database = await openDatabase(config);
    try {
      const backends = await Promise.all(
        Array.from({ length: 6 }, () =>
          database.pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_sleep(0.05)"),
        ),
      );
      expect(new Set(backends.map(({ rows }) => rows[0]!.pid)).size).toBe(2);
    } finally {
      await database.close();
    }
  });
});
