import { createHash, randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { projectFile } from "../project-files.js";

/** The folder of Prisma Migrate migrations shipped with the service. */
export const MIGRATIONS_DIR = projectFile("prisma/migrations/");

/** Options of applyMigrations; timeouts in milliseconds, 0 for none. */
export interface MigrationOptions {
  /** The folder of migrations (the one shipped with the service by default). */
  dir?: URL;
  /** Opening the connection. */
  connectTimeoutMs?: number;
  /** Any one statement, the wait for the migration lock included. */
  statementTimeoutMs?: number;
}

/** The migrations in a folder, oldest first: Prisma names each folder after its timestamp. */
function migrationNames(dir: URL): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** The name of the newest migration the service ships (what a ready database must hold). */
export function latestMigration(dir: URL = MIGRATIONS_DIR): string {
  return migrationNames(dir).at(-1) ?? "";
}

// Prisma Migrate's own lock key, so this and `prisma migrate deploy` never run at once.
const ADVISORY_LOCK = 72707369;

/**
 * Applies the committed Prisma Migrate migrations that the database lacks, each in its own
 * transaction, and records them in `_prisma_migrations` exactly as `prisma migrate deploy`
 * does (checksum = sha256 of migration.sql), so either tool can take over. Safe to run from
 * many replicas at once: they queue on Prisma's advisory lock. Returns the names it applied.
 */
export async function applyMigrations(databaseUrl: string, options: MigrationOptions = {}): Promise<string[]> {
  const { dir = MIGRATIONS_DIR, connectTimeoutMs = 0, statementTimeoutMs = 0 } = options;
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: connectTimeoutMs,
    // Client-side: a database that stops answering (a black hole, not a refusal) fails start-up
    // instead of holding it forever. A lock held by another replica's migration is waited for.
    query_timeout: statementTimeoutMs,
    keepAlive: true,
  });
  // A connection lost between statements is reported here too; the statement under way fails.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  try {
    await client.query("SELECT pg_advisory_lock($1)", [ADVISORY_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    )`);
    const done = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const applied = new Map(done.rows.map((row) => [row.migration_name, row]));
    const names = migrationNames(dir);
    const newlyApplied: string[] = [];
    for (const name of names) {
      const sql = await readFile(new URL(join(name, "migration.sql"), dir), "utf8");
      const checksum = createHash("sha256").update(sql).digest("hex");
      const previous = applied.get(name);
      if (previous) {
        if (!previous.finished_at) {
          throw new Error(`Migration ${name} failed earlier and was not rolled back; resolve it before starting.`);
        }
        if (previous.checksum !== checksum) {
          throw new Error(`Migration ${name} was changed after it was applied (checksum differs).`);
        }
        continue;
      }
      await client.query("BEGIN");
      try {
        await client.query(sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, now(), 1)`,
          [randomUUID(), checksum, name],
        );
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new Error(`Migration ${name} failed: ${(error as Error).message}`, { cause: error });
      }
      newlyApplied.push(name);
    }
    return newlyApplied;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [ADVISORY_LOCK]).catch(() => undefined);
    await client.end();
  }
}
