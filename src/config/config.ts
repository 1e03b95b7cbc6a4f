import { resolve } from "node:path";
import { z } from "zod";
import { type HandlerSpec, handlerSpecSchema } from "../results/handler-spec.js";

/** The server's configuration, parsed once from the environment. */
export interface Config {
  /** PostgreSQL to use; when absent, an embedded PostgreSQL runs under `dataDir`. */
  databaseUrl: string | undefined;
  /** Where the embedded PostgreSQL and the default LOCAL results live. */
  dataDir: string;
  host: string;
  port: number;
  /** The handler used when neither the task nor its flow names one. */
  defaultHandler: HandlerSpec;
  /** Directories LOCAL handlers may use (the default handler's directory is always one). */
  localDirs: string[];
  /** Largest value, as JSON text in bytes, the server writes through any handler. */
  maxValueBytes: number;
  /** Largest JSON text the JSON handler (and so every parameter) stores. */
  jsonMaxBytes: number;
  /** Largest GraphQL request body accepted, in bytes. */
  maxRequestBytes: number;
  /** Whether a browser opening the endpoint gets GraphiQL (development), or nothing. */
  graphiql: boolean;
  s3: S3Config;
  gcs: GcsConfig;
  limits: InputLimits;
  responses: ResponseLimits;
  timeouts: Timeouts;
  operations: Operations;
}

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
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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

/** How the server reaches S3 (or an S3-compatible store). */
export interface S3Config {
  /** Buckets S3 handlers may use (the default handler's bucket is always one). */
  buckets: string[];
  /** Endpoint of an S3-compatible store (MinIO, ...); AWS when absent. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** From the AWS_CREDENTIALS secret; when absent, the SDK's default provider chain. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** Part size of multipart uploads, in bytes. */
  partSize: number;
  /** Values up to this size go up in one PutObject, larger ones in parts. */
  multipartThreshold: number;
}

/** How the server reaches Google Cloud Storage (credentials come from Google's usual places). */
export interface GcsConfig {
  /** Buckets GCS handlers may use (the default handler's bucket is always one). */
  buckets: string[];
  projectId: string | undefined;
}

const MiB = 1024 * 1024;
const list = z
  .string()
  .optional()
  .transform((value) => (value ?? "").split(",").map((item) => item.trim()).filter(Boolean));
const bytes = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const ms = (fallback: number) => z.coerce.number().int().min(1).max(3_600_000).default(fallback);

// HANDLED_DATA_DIR, the HANDLED_DEFAULT_HANDLER_* details and AWS_CREDENTIALS are read apart
// (see loadConfig), so their problems are listed even when other variables are invalid.
const envSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HANDLED_DEFAULT_HANDLER: z.enum(["JSON", "LOCAL", "S3", "GCS"]).default("LOCAL"),
  HANDLED_LOCAL_DIRS: list,
  HANDLED_MAX_VALUE_BYTES: bytes(64 * MiB),
  HANDLED_JSON_MAX_BYTES: bytes(64 * 1024),
  HANDLED_MAX_REQUEST_BYTES: bytes(0),
  HANDLED_GRAPHIQL: z.enum(["true", "false"]).optional(),
  NODE_ENV: z.string().optional(),
  HANDLED_S3_BUCKETS: list,
  HANDLED_S3_ENDPOINT: z.string().url().optional(),
  HANDLED_S3_REGION: z.string().optional(),
  AWS_REGION: z.string().optional(),
  HANDLED_S3_FORCE_PATH_STYLE: z.enum(["true", "false"]).default("false"),
  HANDLED_S3_PART_SIZE_BYTES: z.coerce.number().int().min(5 * MiB).default(8 * MiB),
  HANDLED_S3_MULTIPART_THRESHOLD_BYTES: z.coerce.number().int().min(5 * MiB).default(16 * MiB),
  HANDLED_GCS_BUCKETS: list,
  HANDLED_GCS_PROJECT_ID: z.string().optional(),
  GOOGLE_CLOUD_PROJECT: z.string().optional(),
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
  HANDLED_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: ms(30_000),
  HANDLED_DB_STARTUP_TIMEOUT_MS: ms(120_000),
  HANDLED_STORE_CONNECT_TIMEOUT_MS: ms(5_000),
  HANDLED_STORE_REQUEST_TIMEOUT_MS: ms(30_000),
  HANDLED_HEALTH_TIMEOUT_MS: ms(2_000),
  // Operations.
  HANDLED_SHUTDOWN_TIMEOUT_MS: ms(25_000),
  HANDLED_SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  HANDLED_CORS_ORIGINS: list.refine(
    (origins) => origins.every((origin) => origin === "*" || /^https?:\/\/[^/\s]+$/.test(origin)),
    "each origin is * or scheme://host[:port], with no path (e.g. https://ui.example.com)",
  ),
  HANDLED_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  HANDLED_METRICS_MAX_OPERATIONS: count(200, 10_000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
});

const awsCredentialsSchema = z.object({
  ACCESS_KEY: z.string().min(1),
  SECRET_ACCESS_KEY: z.string().min(1),
  SESSION_TOKEN: z.string().min(1).optional(),
});

/** Parses the AWS_CREDENTIALS secret; its content never appears in a problem reported. */
function parseAwsCredentials(secret: string | undefined, problems: string[]): S3Config["credentials"] {
  if (secret === undefined || secret === "") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(secret);
  } catch {
    problems.push('AWS_CREDENTIALS: is not JSON (expected {"ACCESS_KEY": ..., "SECRET_ACCESS_KEY": ...})');
    return undefined;
  }
  const parsed = awsCredentialsSchema.safeParse(json);
  if (!parsed.success) {
    problems.push("AWS_CREDENTIALS: needs string fields ACCESS_KEY and SECRET_ACCESS_KEY");
    return undefined;
  }
  const { ACCESS_KEY, SECRET_ACCESS_KEY, SESSION_TOKEN } = parsed.data;
  return { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_ACCESS_KEY, ...(SESSION_TOKEN ? { sessionToken: SESSION_TOKEN } : {}) };
}

/** Thrown with every problem of the environment at once. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses the environment into a Config. Throws a ConfigError listing every invalid variable.
 * Relative paths are taken from the working directory.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const credentials = parseAwsCredentials(env.AWS_CREDENTIALS, problems);
  // The default handler is checked from the raw variables, so its problems are listed too
  // when other variables are invalid.
  const dataDir = resolve(env.HANDLED_DATA_DIR || "data");
  const defaultDir = resolve(env.HANDLED_DEFAULT_HANDLER_DIR || resolve(dataDir, "results"));
  const defaultType = env.HANDLED_DEFAULT_HANDLER || "LOCAL";
  const spec = handlerSpecSchema.safeParse(
    defaultType === "LOCAL"
      ? { type: "LOCAL", dir: defaultDir }
      : defaultType === "JSON"
        ? { type: "JSON" }
        : { type: defaultType, bucket: env.HANDLED_DEFAULT_HANDLER_BUCKET, prefix: env.HANDLED_DEFAULT_HANDLER_PREFIX },
  );
  if (!spec.success && ["LOCAL", "JSON", "S3", "GCS"].includes(defaultType)) {
    problems.push(
      ...spec.error.issues.map((i) => `HANDLED_DEFAULT_HANDLER_${String(i.path.join(".")).toUpperCase()}: ${i.message} (for ${defaultType})`),
    );
  }
  if (!parsed.success || !spec.success || problems.length > 0) {
    // One line, as a supervisor's log shows it.
    throw new ConfigError(`Invalid configuration, fix and restart: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const localDirs = [...new Set([...e.HANDLED_LOCAL_DIRS.map((dir) => resolve(dir)), ...(spec.data.type === "LOCAL" ? [defaultDir] : [])])];
  const maxValueBytes = e.HANDLED_MAX_VALUE_BYTES;
  const defaultBucket = (type: "S3" | "GCS") => (spec.data.type === type ? [spec.data.bucket] : []);
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir,
    host: e.HOST,
    port: e.PORT,
    defaultHandler: spec.data,
    localDirs,
    maxValueBytes,
    jsonMaxBytes: Math.min(e.HANDLED_JSON_MAX_BYTES, maxValueBytes),
    // Room for the value, escaped inside a JSON request body, plus the rest of the request.
    maxRequestBytes: e.HANDLED_MAX_REQUEST_BYTES || 2 * maxValueBytes + MiB,
    // An IDE is for development: on unless NODE_ENV is production or it is switched off.
    graphiql: e.HANDLED_GRAPHIQL ? e.HANDLED_GRAPHIQL === "true" : e.NODE_ENV !== "production",
    s3: {
      buckets: [...new Set([...e.HANDLED_S3_BUCKETS, ...defaultBucket("S3")])],
      endpoint: e.HANDLED_S3_ENDPOINT,
      region: e.HANDLED_S3_REGION ?? e.AWS_REGION ?? "us-east-1",
      forcePathStyle: e.HANDLED_S3_FORCE_PATH_STYLE === "true",
      credentials,
      partSize: e.HANDLED_S3_PART_SIZE_BYTES,
      multipartThreshold: e.HANDLED_S3_MULTIPART_THRESHOLD_BYTES,
    },
    gcs: {
      buckets: [...new Set([...e.HANDLED_GCS_BUCKETS, ...defaultBucket("GCS")])],
      projectId: e.HANDLED_GCS_PROJECT_ID ?? e.GOOGLE_CLOUD_PROJECT,
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
    },
  };
}
