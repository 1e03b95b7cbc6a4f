import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import type { Config, Timeouts } from "../config/config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { StartupError } from "../errors.js";
import { describeDatabaseError, isDatabaseUnavailable } from "./errors.js";
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
  /** Bounds on every wait for PostgreSQL; none when absent. */
  timeouts?: Pick<Timeouts, "dbConnect" | "dbStatement" | "dbIdleInTransaction">;
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
  const timeouts = options.timeouts;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max,
    ...(timeouts
      ? {
          connectionTimeoutMillis: timeouts.dbConnect,
          // Server-side limits, set on each new connection...
          statement_timeout: timeouts.dbStatement,
          idle_in_transaction_session_timeout: timeouts.dbIdleInTransaction,
          // ...and a client-side one for a server that no longer answers at all.
          query_timeout: timeouts.dbStatement + timeouts.dbConnect,
        }
      : {}),
    keepAlive: true,
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
export async function openDatabase(config: Config, pool: Omit<PoolOptions, "timeouts"> = {}): Promise<Database> {
  let url = config.databaseUrl;
  let embedded: EmbeddedDatabase | undefined;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir);
    url = embedded.url;
  }
  try {
    await applyMigrations(url, { connectTimeoutMs: config.timeouts.dbConnect, statementTimeoutMs: config.timeouts.dbStartup });
  } catch (error) {
    await embedded?.stop();
    if (!isDatabaseUnavailable(error)) throw error;
    const where = config.databaseUrl ? "the server in DATABASE_URL" : "the embedded PostgreSQL";
    throw new StartupError(
      `PostgreSQL did not answer (${describeDatabaseError(error)}): check that ${where} is running and reachable ` +
        `(waited up to HANDLED_DB_CONNECT_TIMEOUT_MS=${config.timeouts.dbConnect} to connect, ` +
        `HANDLED_DB_STARTUP_TIMEOUT_MS=${config.timeouts.dbStartup} for a statement).`,
      { cause: error },
    );
  }
  const { prisma, pool: pgPool } = createPrismaClient(url, { ...pool, timeouts: config.timeouts });
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
