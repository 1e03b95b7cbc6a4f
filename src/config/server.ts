import { z } from "zod";
import { LOG_LEVELS, type LogLevel } from "../logger.js";
import { bytes, count, duration, type Env, flag, list, MiB, ms, parseEnv } from "./env.js";

/** How the service runs among others: shutdown, logs, metrics and browsers on other origins. */
export interface Operations {
  /** On SIGTERM/SIGINT, how long running requests may take to finish before the process gives up on them. */
  shutdownTimeoutMs: number;
  /**
   * On SIGTERM/SIGINT, how long the service keeps serving with /readyz at 503 before it closes its
   * port, so that load balancers stop sending it traffic first; 0: it closes at once.
   */
  shutdownDelayMs: number;
  /** Origins whose browser pages may call the API ("*": any); empty: no CORS headers at all. */
  corsOrigins: string[] | "*";
  /** A port of its own for GET /metrics (off the public port); absent: /metrics on the API's port. */
  metricsPort: number | undefined;
  /** pino's level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: LogLevel;
  /** How many distinct operation names label request metrics; later names count as "other". */
  maxMetricOperations: number;
  /** Whether the results browser is served at `/`. */
  ui: boolean;
  /** Subscriptions (live updates) one replica serves at once; more are refused with RATE_LIMITED. */
  maxSubscriptions: number;
}

/** How large and how deep what clients send may be; past these, BAD_USER_INPUT. */
export interface InputLimits {
  /** Flow, task, parameter and cached-input names, and idempotency keys, in characters. */
  maxNameLength: number;
  /** A state's message, in characters. */
  maxMessageLength: number;
  /** A LOCAL, S3 or GCS handle, in characters (a JSON handle is bounded by `jsonMaxBytes`). */
  maxHandleLength: number;
  /** How deep objects and arrays may nest in a value. */
  maxJsonDepth: number;
  /** Tasks (parameters included) one flow may have. */
  maxTasksPerFlow: number;
  /** State changes one setTaskRunStates call may carry. */
  maxBatchSize: number;
}

/** What one request may read from storage, and how many large reads a process runs at once. */
export interface ResponseLimits {
  /** Total bytes of the values and previews one request reads. */
  maxBytes: number;
  /** Values and previews one request reads. */
  maxValues: number;
  /** Values at least this large count as large reads. */
  largeReadBytes: number;
  /** Large reads running at once in this process; others wait their turn. */
  largeReadConcurrency: number;
}

/** Every wait on something outside the process is bounded; all in milliseconds. */
export interface Timeouts {
  /** Opening a connection to PostgreSQL. */
  dbConnect: number;
  /** One SQL statement (PostgreSQL's statement_timeout); the client gives up a connect timeout later. */
  dbStatement: number;
  /** A transaction left idle (PostgreSQL's idle_in_transaction_session_timeout). */
  dbIdleInTransaction: number;
  /** Start-up's connection and migrations, all together. */
  dbStartup: number;
  /** Opening a connection to S3 or GCS. */
  storeConnect: number;
  /** An S3 or GCS request: no answer (S3: no bytes on the socket) for this long fails it. */
  storeRequest: number;
  /** GET /healthz answers 503 when the database has not answered within this. */
  health: number;
}

/** How large a GraphQL document may be, checked before any resolver runs. */
export interface QueryLimits {
  /** Nesting of fields (introspection excluded). */
  maxDepth: number;
  /** Aliases in one operation. */
  maxAliases: number;
  /** Directives in one operation. */
  maxDirectives: number;
  /** Lexical tokens in one document (checked while it is parsed: a huge document is not parsed whole). */
  maxTokens: number;
  /**
   * Cost of one operation, from its document and variables: each field costs 1 plus what it
   * selects, and a page of a connection as many times what one item selects as the page may hold.
   */
  maxCost: number;
}

/** Who may call the API. */
export interface AuthConfig {
  /** required: every request needs an API key (`Authorization: Bearer`); off: everyone is in the default project. */
  mode: "required" | "off";
  /** How long a checked key is trusted before the database is asked again, in ms (revocation takes effect within it). */
  cacheMs: number;
  /** Requests one API key may make per minute, per replica; 0: no limit. Callers without a key are not limited. */
  ratePerMinute: number;
  /** only: keys without admin may run only the SDK's operations (by the `documentId` it sends); off: any document. */
  trustedDocuments: "only" | "off";
}

/** The server's own settings: everything but the handler types'. */
export interface ServerConfig {
  /** PostgreSQL to use; when absent, an embedded PostgreSQL runs under the data folder. */
  databaseUrl: string | undefined;
  /** Whether the hot statements are prepared once per connection (see db/database.ts PoolOptions). */
  preparedStatements: boolean;
  /** Most connections to PostgreSQL one replica keeps open for requests. */
  poolSize: number;
  /** Task runs whose fixed facts a replica keeps, to record batches of inline values in one statement. */
  taskRunCacheSize: number;
  host: string;
  port: number;
  /** Largest value, as JSON text in bytes, the server writes through any handler. */
  maxValueBytes: number;
  /** Largest JSON text the JSON handler (and so every parameter) stores. */
  jsonMaxBytes: number;
  /** Largest GraphQL request body accepted, in bytes. */
  maxRequestBytes: number;
  /** Whether a browser opening the endpoint gets GraphiQL (development), or nothing. */
  graphiql: boolean;
  /** Whether introspection queries are answered (GraphiQL needs them). */
  introspection: boolean;
  /** Whether error messages keep GraphQL's "Did you mean ...?" suggestions, which name parts of the schema. */
  fieldSuggestions: boolean;
  queryLimits: QueryLimits;
  auth: AuthConfig;
  limits: InputLimits;
  responses: ResponseLimits;
  timeouts: Timeouts;
  operations: Operations;
  lifecycle: LifecycleConfig;
}

/** Cleaning up after itself: the sweep of objects no result points at. */
export interface LifecycleConfig {
  /**
   * How old a write's intent must be before a sweep may delete its object when no result points
   * at it: longer than any write (and its batch) can take.
   */
  gcGraceMs: number;
  /** How often each replica sweeps; 0: never (run `npm run gc` instead). */
  gcIntervalMs: number;
  /** Days a run is kept after it ended, for flows that do not say; none: kept until deleted. */
  retentionDays: number | undefined;
  /** How often a retention pass runs (in one replica at a time); 0: never. */
  retentionIntervalMs: number;
  /** Runs one retention pass deletes at most. */
  retentionBatchSize: number;
  /** Pause between two runs' deletions in a pass. */
  retentionPauseMs: number;
}

const serverEnv = z.object({
  DATABASE_URL: z.string().url().optional(),
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HANDLED_MAX_VALUE_BYTES: bytes(64 * MiB),
  HANDLED_JSON_MAX_BYTES: bytes(64 * 1024),
  HANDLED_MAX_REQUEST_BYTES: bytes(0),
  HANDLED_GRAPHIQL: flag.optional(),
  HANDLED_INTROSPECTION: flag.optional(),
  HANDLED_AUTH: z.enum(["required", "off"]).optional(),
  HANDLED_AUTH_CACHE_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  HANDLED_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(10_000_000).default(6_000),
  HANDLED_TRUSTED_DOCUMENTS: z.enum(["only", "off"]).default("off"),
  HANDLED_FIELD_SUGGESTIONS: flag.optional(),
  // What one document may hold.
  HANDLED_MAX_QUERY_DEPTH: count(20, 1000),
  HANDLED_MAX_ALIASES: count(100, 100_000),
  HANDLED_MAX_DIRECTIVES: count(50, 100_000),
  HANDLED_MAX_QUERY_TOKENS: count(5000, 1_000_000),
  HANDLED_MAX_QUERY_COST: count(100_000, 1_000_000_000),
  NODE_ENV: z.string().optional(),
  // Input limits. Names go into unique indexes, whose rows PostgreSQL caps near 2,700 bytes.
  HANDLED_MAX_NAME_LENGTH: count(200, 500),
  HANDLED_MAX_MESSAGE_LENGTH: count(4096, 1_000_000),
  HANDLED_MAX_HANDLE_LENGTH: count(4096, 65_536),
  HANDLED_MAX_JSON_DEPTH: count(100, 1000),
  HANDLED_MAX_TASKS_PER_FLOW: count(1000, 100_000),
  HANDLED_MAX_BATCH_SIZE: count(1000, 100_000),
  // What one response may read.
  HANDLED_MAX_RESPONSE_BYTES: bytes(128 * MiB),
  HANDLED_MAX_RESPONSE_VALUES: count(5000, 1_000_000),
  HANDLED_LARGE_READ_BYTES: bytes(MiB),
  HANDLED_LARGE_READ_CONCURRENCY: count(4, 1000),
  // Timeouts, in milliseconds.
  HANDLED_DB_CONNECT_TIMEOUT_MS: ms(5_000),
  HANDLED_DB_STATEMENT_TIMEOUT_MS: ms(30_000),
  HANDLED_DB_PREPARED_STATEMENTS: flag.default("true"),
  HANDLED_DB_POOL_SIZE: count(10, 1000),
  HANDLED_TASK_RUN_CACHE_SIZE: z.coerce.number().int().min(0).max(10_000_000).default(10_000),
  HANDLED_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: ms(30_000),
  HANDLED_DB_STARTUP_TIMEOUT_MS: ms(120_000),
  HANDLED_STORE_CONNECT_TIMEOUT_MS: ms(5_000),
  HANDLED_STORE_REQUEST_TIMEOUT_MS: ms(30_000),
  HANDLED_HEALTH_TIMEOUT_MS: ms(2_000),
  // Operations.
  HANDLED_SHUTDOWN_TIMEOUT_MS: ms(25_000),
  HANDLED_GC_GRACE: duration("1h"),
  HANDLED_GC_INTERVAL: duration("10m"),
  HANDLED_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).optional(),
  HANDLED_RETENTION_INTERVAL: duration("1h"),
  HANDLED_RETENTION_BATCH_SIZE: count(100, 10_000),
  HANDLED_RETENTION_PAUSE: duration("50ms"),
  HANDLED_SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  HANDLED_CORS_ORIGINS: list.refine(
    (origins) => origins.every((origin) => origin === "*" || /^https?:\/\/[^/\s]+$/.test(origin)),
    "each origin is * or scheme://host[:port], with no path (e.g. https://ui.example.com)",
  ),
  HANDLED_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  HANDLED_METRICS_MAX_OPERATIONS: count(200, 10_000),
  HANDLED_UI: flag.default("true"),
  HANDLED_MAX_SUBSCRIPTIONS: count(1000, 1_000_000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
});

/** Whether a host name or address only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The server's own variables; undefined (and `problems` added to) when any is invalid. */
export function readServer(env: Env, problems: string[]): ServerConfig | undefined {
  const e = parseEnv(serverEnv, env, problems);
  if (!e) return undefined;
  const loopback = isLoopback(e.HOST);
  // Off by default only where no one else can reach the port, and never in production.
  const auth = e.HANDLED_AUTH ?? (loopback && e.NODE_ENV !== "production" ? "off" : "required");
  if (auth === "off" && !loopback) {
    problems.push(
      `HANDLED_AUTH: is off while HOST (${e.HOST}) is reachable from other machines; set HANDLED_AUTH=required and make keys (npm run keys), or listen on 127.0.0.1`,
    );
    return undefined;
  }
  if (e.HANDLED_TRUSTED_DOCUMENTS === "only" && auth === "off") {
    problems.push(
      "HANDLED_TRUSTED_DOCUMENTS: only holds API keys to the SDK's operations, and auth is off; set HANDLED_AUTH=required",
    );
    return undefined;
  }
  const maxValueBytes = e.HANDLED_MAX_VALUE_BYTES;
  const development = e.NODE_ENV !== "production";
  const graphiql = e.HANDLED_GRAPHIQL ? e.HANDLED_GRAPHIQL === "true" : development;
  return {
    databaseUrl: e.DATABASE_URL,
    preparedStatements: e.HANDLED_DB_PREPARED_STATEMENTS === "true",
    poolSize: e.HANDLED_DB_POOL_SIZE,
    taskRunCacheSize: e.HANDLED_TASK_RUN_CACHE_SIZE,
    host: e.HOST,
    port: e.PORT,
    maxValueBytes,
    jsonMaxBytes: Math.min(e.HANDLED_JSON_MAX_BYTES, maxValueBytes),
    // Room for the value, escaped inside a JSON request body, plus the rest of the request.
    maxRequestBytes: e.HANDLED_MAX_REQUEST_BYTES || 2 * maxValueBytes + MiB,
    // An IDE is for development: on unless NODE_ENV is production or it is switched off.
    graphiql,
    // What shows the schema to anyone who asks: on where GraphiQL is, or in development.
    introspection: e.HANDLED_INTROSPECTION ? e.HANDLED_INTROSPECTION === "true" : graphiql || development,
    fieldSuggestions: e.HANDLED_FIELD_SUGGESTIONS ? e.HANDLED_FIELD_SUGGESTIONS === "true" : development,
    auth: {
      mode: auth,
      cacheMs: e.HANDLED_AUTH_CACHE_MS,
      ratePerMinute: e.HANDLED_RATE_LIMIT_PER_MINUTE,
      trustedDocuments: e.HANDLED_TRUSTED_DOCUMENTS,
    },
    queryLimits: {
      maxDepth: e.HANDLED_MAX_QUERY_DEPTH,
      maxAliases: e.HANDLED_MAX_ALIASES,
      maxDirectives: e.HANDLED_MAX_DIRECTIVES,
      maxTokens: e.HANDLED_MAX_QUERY_TOKENS,
      maxCost: e.HANDLED_MAX_QUERY_COST,
    },
    limits: {
      maxNameLength: e.HANDLED_MAX_NAME_LENGTH,
      maxMessageLength: e.HANDLED_MAX_MESSAGE_LENGTH,
      maxHandleLength: e.HANDLED_MAX_HANDLE_LENGTH,
      maxJsonDepth: e.HANDLED_MAX_JSON_DEPTH,
      maxTasksPerFlow: e.HANDLED_MAX_TASKS_PER_FLOW,
      maxBatchSize: e.HANDLED_MAX_BATCH_SIZE,
    },
    responses: {
      maxBytes: e.HANDLED_MAX_RESPONSE_BYTES,
      maxValues: e.HANDLED_MAX_RESPONSE_VALUES,
      largeReadBytes: e.HANDLED_LARGE_READ_BYTES,
      largeReadConcurrency: e.HANDLED_LARGE_READ_CONCURRENCY,
    },
    timeouts: {
      dbConnect: e.HANDLED_DB_CONNECT_TIMEOUT_MS,
      dbStatement: e.HANDLED_DB_STATEMENT_TIMEOUT_MS,
      dbIdleInTransaction: e.HANDLED_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      dbStartup: e.HANDLED_DB_STARTUP_TIMEOUT_MS,
      storeConnect: e.HANDLED_STORE_CONNECT_TIMEOUT_MS,
      storeRequest: e.HANDLED_STORE_REQUEST_TIMEOUT_MS,
      health: e.HANDLED_HEALTH_TIMEOUT_MS,
    },
    operations: {
      shutdownTimeoutMs: e.HANDLED_SHUTDOWN_TIMEOUT_MS,
      shutdownDelayMs: e.HANDLED_SHUTDOWN_DELAY_MS,
      corsOrigins: e.HANDLED_CORS_ORIGINS.includes("*") ? "*" : e.HANDLED_CORS_ORIGINS,
      metricsPort: e.HANDLED_METRICS_PORT,
      logLevel: e.LOG_LEVEL,
      maxMetricOperations: e.HANDLED_METRICS_MAX_OPERATIONS,
      ui: e.HANDLED_UI === "true",
      maxSubscriptions: e.HANDLED_MAX_SUBSCRIPTIONS,
    },
    lifecycle: {
      gcGraceMs: e.HANDLED_GC_GRACE,
      gcIntervalMs: e.HANDLED_GC_INTERVAL,
      retentionDays: e.HANDLED_RETENTION_DAYS,
      retentionIntervalMs: e.HANDLED_RETENTION_INTERVAL,
      retentionBatchSize: e.HANDLED_RETENTION_BATCH_SIZE,
      retentionPauseMs: e.HANDLED_RETENTION_PAUSE,
    },
  };
}
