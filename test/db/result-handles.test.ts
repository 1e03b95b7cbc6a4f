import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { lifecycleQueries } from "../../src/db/lifecycle.js";
import { applyMigrations } from "../../src/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

// Deletion looks the handles of objects up (is another result still pointing at this file?),
// through a hash index that Prisma Migrate cannot describe (it is partial), so `npm run
// db:check` does not see it: these tests do.

describe("the index of results' handles", () => {
  let db: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    await applyMigrations(db.url);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  const indexBytes = async () =>
    Number((await client.query(`SELECT pg_relation_size('result_handle_idx') AS bytes`)).rows[0].bytes);
  const insertResults = (type: string, handle: string, count: number) =>
    client.query(
      `INSERT INTO result (id, handler_type, handler_config, handle)
       SELECT gen_random_uuid(), $1::"HandlerType", '{}', ${handle} FROM generate_series(1, $2) AS n`,
      [type, count],
    );

  it("holds the handles of objects only", async () => {
    const { rows } = await client.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'result_handle_idx'`);
    expect(rows).toEqual([
      {
        indexdef: `CREATE INDEX result_handle_idx ON public.result USING hash (handle) WHERE (handler_type <> 'JSON'::"HandlerType")`,
      },
    ]);
  });

  it("does not grow with values recorded inline, however often the same value comes back", async () => {
    const empty = await indexBytes();

    // A value tasks return again and again: each insert of it would walk its bucket's chain.
    await insertResults("JSON", `'null'`, 5000);
    expect(await indexBytes()).toBe(empty);

    await insertResults("LOCAL", `'/results/' || gen_random_uuid()`, 5000);
    expect(await indexBytes()).toBeGreaterThan(empty);
  });

  it("is where a sweep looks up whether a result points at an object", async () => {
    // As many results as a table soon holds: reading them all would cost more than the index.
    await insertResults("LOCAL", `'/results/' || gen_random_uuid()`, 20_000);
    await insertResults("LOCAL", `'/results/kept'`, 1);
    await client.query(
      `INSERT INTO storage_intent (id, kind, handler_type, handler_config, handle, size_bytes)
       SELECT gen_random_uuid(), 'write', 'LOCAL', '{}', h, 1 FROM unnest(ARRAY['/results/kept', '/results/gone']) AS h`,
    );
    await client.query("ANALYZE");
    const scans = async () => {
      await client.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await client.query(
        `SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'result_handle_idx'`,
      );
      return Number(rows[0].idx_scan);
    };
    const before = await scans();

    const pool = new pg.Pool({ connectionString: db.url });
    const pending = await lifecycleQueries(pool).pendingIntents(0);
    await pool.end(); // its connection reports what it scanned as it closes

    expect(pending.map((i) => [i.handle, i.referenced]).sort()).toEqual([
      ["/results/gone", false],
      ["/results/kept", true],
    ]);
    await vi.waitFor(async () => expect(await scans()).toBeGreaterThan(before), { timeout: 10_000, interval: 100 });
  });
});
