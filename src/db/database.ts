import { setTimeout as sleep } from "node:timers/promises";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { withDeadline } from "../deadline.js";
import { StartupError } from "../errors.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { type Logger, silentLogger } from "../logger.js";
import type { EmbeddedDatabase } from "./embedded-postgres.js";
import { describeDatabaseError, isDatabaseUnavailable } from "./errors.js";
import { applyMigrations, latestMigration } from "./migrate.js";
import { createQueries, type Queries } from "./queries.js";

/** A migrated database and the Prisma client over it. */
export interface Database {
  url: string;
  prisma: PrismaClient;
  /**
   * The node-postgres pool under Prisma's adapter, for the few hot statements that are plain
   * SQL anyway: through the pool they skip Prisma's per-query work.
   */
  pool: pg.Pool;
  /** Every statement the service sends, by concern (the data-access layer). */
  queries: Queries;
  /** Whether the service runs its own embedded PostgreSQL. */
  embedded: boolean;
  /** Resolves when the database answers and holds the newest migration the service ships. */
  checkReady(): Promise<void>;
  /**
   * Closes the pool (waiting for statements under way), then stops an embedded PostgreSQL. With
   * `waitMs`, statements still running after that long are abandoned (their connections close
   * with the process).
   */
  close(options?: { waitMs?: number }): Promise<void>;
}

/** Every wait on PostgreSQL, in milliseconds. */
export interface DatabaseTimeouts {
  /** Opening a connection. */
  dbConnect: number;
  /** One SQL statement (PostgreSQL's statement_timeout); the client gives up a connect timeout later. */
  dbStatement: number;
  /** A transaction left idle (PostgreSQL's idle_in_transaction_session_timeout). */
  dbIdleInTransaction: number;
  /** Start-up's connection and migrations, all together. */
  dbStartup: number;
}

/** Which database to open, and how long to wait for it. */
export interface DatabaseOptions {
  /** PostgreSQL to use; when absent, an embedded PostgreSQL runs under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  timeouts: DatabaseTimeouts;
  /** See PoolOptions.preparedStatements; true when absent. */
  preparedStatements?: boolean;
  /** See PoolOptions.max; node-postgres's 10 when absent. */
  poolSize?: number;
}

/** Options of the connection pool under Prisma. */
export interface PoolOptions {
  /** Most connections open at once. */
  max?: number;
  /** Called once for every statement sent, to count them. */
  onStatement?: () => void;
  /** Bounds on every wait for PostgreSQL; none when absent. */
  timeouts?: Pick<DatabaseTimeouts, "dbConnect" | "dbStatement" | "dbIdleInTransaction">;
  /** Where the pool reports connections PostgreSQL closed; nowhere when absent. */
  logger?: Logger;
  /**
   * Whether named statements (see sql.ts `statement`) are prepared on each connection and run by
   * name (the default), or sent whole each time (for a pooler that cannot keep them: PgBouncer
   * before 1.21, or without max_prepared_statements, in transaction mode).
   */
  preparedStatements?: boolean;
}

/**
 * A node-postgres client class that reports each statement before sending it, and, without
 * prepared statements, sends named ones whole; none when the plain client does both.
 */
function clientClass(options: PoolOptions): typeof pg.Client | undefined {
  const { onStatement, preparedStatements = true } = options;
  if (!onStatement && preparedStatements) return undefined;
  return class ObservedClient extends pg.Client {
    // pg's query() has many overloads; this forwards every one of them, which no single typed
    // signature can state, hence `any`.
    // biome-ignore lint/suspicious/noExplicitAny: forwards every overload of pg's query().
    override query(...args: any[]): any {
      onStatement?.();
      const [config] = args;
      // Without a name, pg sends the statement to be parsed and planned again.
      if (!preparedStatements && typeof config === "object" && config?.name) args[0] = { ...config, name: undefined };
      // biome-ignore lint/suspicious/noExplicitAny: as above.
      return (super.query as (...a: any[]) => any)(...args);
    }
  };
}

/** Creates a Prisma client (driver adapter over a node-postgres pool) for a database URL. */
export function createPrismaClient(url: string, options: PoolOptions = {}): { prisma: PrismaClient; pool: pg.Pool } {
  const timeouts = options.timeouts;
  const Client = clientClass(options);
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
    ...(Client ? { Client } : {}),
  });
  // An idle connection that PostgreSQL closes (a restart, pg_terminate_backend, a proxy timing
  // out) is reported here; without a listener the process would crash. The pool has already
  // dropped it and opens a new one when needed.
  const logger = options.logger ?? silentLogger;
  pool.on("error", (error) => {
    logger.warn(
      { cause: describeDatabaseError(error) },
      "PostgreSQL closed an idle connection; the pool will open a new one",
    );
  });
  return { prisma: new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) }), pool };
}

/**
 * Events the embedded-postgres package hooks when it is loaded (through async-exit-hook), to stop
 * its clusters and then exit at once, with code 0 even when the process was about to fail. The
 * service stops its cluster itself, after draining, and keeps its own exit code.
 */
const HOOKED_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;

/**
 * Loads the embedded PostgreSQL module, leaving the process's signals and exit code to their
 * owner. Everything that starts an embedded PostgreSQL loads it through here.
 */
export async function loadEmbeddedPostgres(): Promise<typeof import("./embedded-postgres.js")> {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  try {
    return await import("./embedded-postgres.js");
  } finally {
    for (const event of HOOKED_EVENTS) {
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
      }
    }
  }
}

/** Starts the embedded PostgreSQL; the package is optional and loaded only when it is used. */
async function startEmbedded(dataDir: string): Promise<EmbeddedDatabase> {
  let embeddedModule: typeof import("./embedded-postgres.js");
  try {
    embeddedModule = await loadEmbeddedPostgres();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
    throw new StartupError(
      "DATABASE_URL is not set and the embedded PostgreSQL is not installed (an install without optional dependencies): set DATABASE_URL to your PostgreSQL.",
      { cause: error },
    );
  }
  try {
    return await embeddedModule.startEmbeddedPostgres(dataDir);
  } catch (error) {
    if (error instanceof StartupError) throw error;
    throw new StartupError(`${(error as Error).message.split("\n")[0]} Set DATABASE_URL to use another PostgreSQL.`, {
      cause: error,
    });
  }
}

/**
 * Applies the migrations, trying again while PostgreSQL cannot be reached, until
 * HANDLED_DB_CONNECT_TIMEOUT_MS has passed since the first try (a database starting next to the
 * service gets that long). Each failed try is logged; the last one fails start-up.
 */
async function migrateWhenReachable(
  url: string,
  config: DatabaseOptions,
  logger: Logger,
  where: string,
): Promise<void> {
  const { dbConnect, dbStartup } = config.timeouts;
  const giveUpAt = Date.now() + dbConnect;
  for (let attempt = 1; ; attempt++) {
    try {
      await applyMigrations(url, {
        connectTimeoutMs: Math.max(500, giveUpAt - Date.now()),
        statementTimeoutMs: dbStartup,
      });
      return;
    } catch (error) {
      if (!isDatabaseUnavailable(error)) {
        throw new StartupError(
          `Migrating the database failed: ${(error as Error).message.split("\n")[0]} Fix the database (or the migration), then start again.`,
          {
            cause: error,
          },
        );
      }
      const waitMs = Math.min(250 * 2 ** (attempt - 1), 2000, giveUpAt - Date.now());
      if (waitMs <= 0) {
        throw new StartupError(
          `PostgreSQL did not answer (${describeDatabaseError(error)}) after ${attempt} tries: check that ${where} is running and reachable ` +
            `(tried for HANDLED_DB_CONNECT_TIMEOUT_MS=${dbConnect}; a statement may take HANDLED_DB_STARTUP_TIMEOUT_MS=${dbStartup}).`,
          { cause: error },
        );
      }
      logger.warn(
        { attempt, cause: describeDatabaseError(error), retryInMs: waitMs },
        `PostgreSQL did not answer; trying again`,
      );
      await sleep(waitMs);
    }
  }
}

/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL under the data folder when
 * none is given, and applies pending migrations before anything else uses it.
 */
export async function openDatabase(
  config: DatabaseOptions,
  logger: Logger = silentLogger,
  pool: Omit<PoolOptions, "timeouts" | "logger"> = {},
): Promise<Database> {
  let url = config.databaseUrl;
  let embedded: EmbeddedDatabase | undefined;
  if (!url) {
    embedded = await startEmbedded(config.dataDir);
    logger.info({ databaseDir: embedded.databaseDir }, "embedded PostgreSQL started");
    url = embedded.url;
  }
  try {
    await migrateWhenReachable(
      url,
      config,
      logger,
      config.databaseUrl ? "the server in DATABASE_URL" : "the embedded PostgreSQL",
    );
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const { prisma, pool: pgPool } = createPrismaClient(url, {
    max: config.poolSize,
    ...pool,
    timeouts: config.timeouts,
    logger,
    preparedStatements: config.preparedStatements,
  });
  const newest = latestMigration();
  return {
    url,
    prisma,
    pool: pgPool,
    queries: createQueries(prisma, pgPool),
    embedded: embedded !== undefined,
    async checkReady() {
      const { rowCount } = await pgPool.query(
        `SELECT 1 FROM "_prisma_migrations" WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL`,
        [newest],
      );
      if (!rowCount) throw new Error(`migration ${newest} is not applied`);
    },
    async close({ waitMs } = {}) {
      // Prisma ends the pool only if it ever used it (its adapter connects lazily); the probes
      // and hot statements use the pool directly, so it is ended here when Prisma did not.
      const disconnected = prisma.$disconnect().then(() => (pgPool.ended ? undefined : pgPool.end()));
      if (waitMs === undefined) await disconnected;
      else await withDeadline(disconnected, waitMs, "statements still running").catch(() => undefined);
      await embedded?.stop();
    },
  };
}
