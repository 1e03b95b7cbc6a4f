import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS_DIR } from "../../src/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

describe("migrations", () => {
  let db: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  it("applies every committed migration once and records it as Prisma Migrate does", async () => {
    const names = (await readdir(MIGRATIONS_DIR, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();

    expect(await applyMigrations(db.url)).toEqual(names);
    expect(await applyMigrations(db.url)).toEqual([]);

    const { rows } = await client.query(
      `SELECT migration_name, checksum, finished_at IS NOT NULL AS done, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    const expected = await Promise.all(
      names.map(async (name) => ({
        migration_name: name,
        checksum: createHash("sha256")
          .update(await readFile(new URL(`${name}/migration.sql`, MIGRATIONS_DIR), "utf8"))
          .digest("hex"),
        done: true,
        applied_steps_count: 1,
      })),
    );
    expect(rows).toEqual(expected);
  });

  it("refuses to start on a database whose applied migration was edited since", async () => {
    await client.query(`UPDATE "_prisma_migrations" SET checksum = 'edited'`);
    await expect(applyMigrations(db.url)).rejects.toThrow(/was changed after it was applied/);
  });

  it("lets concurrent replicas migrate one database safely", async () => {
    const fresh = await createTestDatabase();
    try {
      const applied = await Promise.all([
        applyMigrations(fresh.url),
        applyMigrations(fresh.url),
        applyMigrations(fresh.url),
      ]);
      expect(applied.map((names) => names.length).sort()).toEqual([0, 0, applied.flat().length]);
    } finally {
      await fresh.drop();
    }
  });
});
