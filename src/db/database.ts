import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import type { Config } from "../config/config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { describeDatabaseError } from "./errors.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded-postgres.js";
import { applyMigrations } from "./migrate.js";

/** A migrated database and the Prisma client over it. */
export interface Database {
  url: string;
  prisma: PrismaClient;
  /**
   * The node-postgres pool under Prisma's adapter, for the few hot statements that are plain
   * SQL anyway: through the pool they skip Prisma's per-query work.
   */
  pool: pg.Pool;
  /** Whether the service runs its own embedded PostgreSQL. */
  embedded: boolean;
  close(): Promise<void>;
}

/** Options of the connection pool under Prisma. */
export interface PoolOptions {
  /** Most connections open at once. */
  max?: number;
  /** Called once for every statement sent, to count them. */
  onStatement?: () => void;
}

/** A node-postgres client class that reports each statement before sending it. */
function countingClient(onStatement: () => void): typeof pg.Client {
  return class CountingClient extends pg.Client {
    // pg's query() has many overloads; this forwards every one of them unchanged, which no
    // single typed signature can state, hence `any`.
    override query(...args: any[]): any {
      onStatement();
      return (super.query as (...a: any[]) => any)(...args);
    }
  };
}

/** Creates a Prisma client (driver adapter over a node-postgres pool) for a database URL. */
export function createPrismaClient(url: string, options: PoolOptions = {}): { prisma: PrismaClient; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max,
    ...(options.onStatement ? { Client: countingClient(options.onStatement) } : {}),
  });
  // An idle connection that PostgreSQL closes (a restart, pg_terminate_backend, a proxy timing
  // out) is reported here; without a listener the process would crash. The pool has already
  // dropped it and opens a new one when needed.
  pool.on("error", (error) => {
    console.error(`PostgreSQL closed an idle connection (${describeDatabaseError(error)}); the pool will open a new one.`);
  });
  return { prisma: new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) }), pool };
}

/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL under the data folder when
 * none is given, and applies pending migrations before anything else uses it.
 */
export async function openDatabase(config: Config, pool: PoolOptions = {}): Promise<Database> {
  let url = config.databaseUrl;
  let embedded: EmbeddedDatabase | undefined;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir);
    url = embedded.url;
  }
  try {
    await applyMigrations(url);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const { prisma, pool: pgPool } = createPrismaClient(url, pool);
  return {
    url,
    prisma,
    pool: pgPool,
    embedded: embedded !== undefined,
    async close() {
      await prisma.$disconnect();
      await embedded?.stop();
    },
  };
}
