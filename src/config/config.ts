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
}

const MiB = 1024 * 1024;
const list = z
  .string()
  .optional()
  .transform((value) => (value ?? "").split(",").map((item) => item.trim()).filter(Boolean));
const bytes = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const envSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  HANDLED_DATA_DIR: z.string().default("data"),
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HANDLED_DEFAULT_HANDLER: z.enum(["JSON", "LOCAL", "S3", "GCS"]).default("LOCAL"),
  HANDLED_DEFAULT_HANDLER_DIR: z.string().optional(),
  HANDLED_DEFAULT_HANDLER_BUCKET: z.string().optional(),
  HANDLED_DEFAULT_HANDLER_PREFIX: z.string().optional(),
  HANDLED_LOCAL_DIRS: list,
  HANDLED_MAX_VALUE_BYTES: bytes(64 * MiB),
  HANDLED_JSON_MAX_BYTES: bytes(64 * 1024),
  HANDLED_MAX_REQUEST_BYTES: bytes(0),
});

/** Thrown with every problem of the environment at once. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses the environment into a Config. Throws a ConfigError listing every invalid variable.
 * Relative paths are taken from the working directory.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      `Invalid configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n")}`,
    );
  }
  const e = parsed.data;
  const dataDir = resolve(e.HANDLED_DATA_DIR);
  const defaultDir = resolve(e.HANDLED_DEFAULT_HANDLER_DIR ?? resolve(dataDir, "results"));
  const spec = handlerSpecSchema.safeParse(
    e.HANDLED_DEFAULT_HANDLER === "LOCAL"
      ? { type: "LOCAL", dir: defaultDir }
      : e.HANDLED_DEFAULT_HANDLER === "JSON"
        ? { type: "JSON" }
        : { type: e.HANDLED_DEFAULT_HANDLER, bucket: e.HANDLED_DEFAULT_HANDLER_BUCKET, prefix: e.HANDLED_DEFAULT_HANDLER_PREFIX },
  );
  if (!spec.success) {
    throw new ConfigError(
      `Invalid default handler (HANDLED_DEFAULT_HANDLER=${e.HANDLED_DEFAULT_HANDLER}):\n${spec.error.issues
        .map((i) => `  HANDLED_DEFAULT_HANDLER_${String(i.path.join(".")).toUpperCase()}: ${i.message}`)
        .join("\n")}`,
    );
  }
  const localDirs = [...new Set([...e.HANDLED_LOCAL_DIRS.map((dir) => resolve(dir)), ...(spec.data.type === "LOCAL" ? [defaultDir] : [])])];
  const maxValueBytes = e.HANDLED_MAX_VALUE_BYTES;
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
  };
}
