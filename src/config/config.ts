import { resolve } from "node:path";
import type { Keyring } from "../results/codecs.js";
import type { HandlerSettings, HandlerSpec } from "../results/handler-spec.js";
import type { GcsSettings } from "../results/handlers/gcs.js";
import type { JsonSettings } from "../results/handlers/json.js";
import type { LocalSettings } from "../results/handlers/local.js";
import type { S3Settings } from "../results/handlers/s3.js";
import { readDefaultHandler } from "./default-handler.js";
import { readEncryption } from "./encryption.js";
import type { Env } from "./env.js";
import { readGcs } from "./gcs.js";
import { readLocal } from "./local.js";
import { readS3 } from "./s3.js";
import {
  type AuthConfig,
  type InputLimits,
  type Operations,
  type QueryLimits,
  type ResponseLimits,
  readServer,
  type ServerConfig,
  type Timeouts,
} from "./server.js";
import { readTransfers, type TransfersConfig } from "./transfers.js";

export type { AuthConfig, InputLimits, Operations, QueryLimits, ResponseLimits, Timeouts };

/** The server's configuration, parsed once from the environment. */
export interface Config extends Omit<ServerConfig, "jsonMaxBytes"> {
  /** Where the embedded PostgreSQL and the default LOCAL results live. */
  dataDir: string;
  /** The handler used when neither the task nor its flow names one. */
  defaultHandler: HandlerSpec;
  /**
   * What each handler type may reach, and how (the default handler's directory or bucket is
   * always allowed); the JSON handler's `maxBytes` is HANDLED_JSON_MAX_BYTES.
   */
  handlers: Handlers;
  /** The keys of `aes-256-gcm` (HANDLED_ENCRYPTION_KEYS), and the one new writes use. */
  encryption: Keyring;
  /** Presigned and streamed uploads and downloads. */
  transfers: TransfersConfig;
}

/** The settings of every handler type, one config model each (config/<type>.ts). */
export interface Handlers extends HandlerSettings {
  JSON: JsonSettings;
  LOCAL: LocalSettings;
  S3: S3Settings;
  GCS: GcsSettings;
}

/** Thrown with every problem of the environment at once. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses the environment into a Config: the server's own variables and each handler type's,
 * every model checked even when another has problems. Throws a ConfigError listing every invalid
 * variable. Relative paths are taken from the working directory.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const server = readServer(env, problems);
  const dataDir = resolve(env.HANDLED_DATA_DIR || "data");
  // Listed after the others: what is wrong with the default handler reads best last.
  const handlerProblems: string[] = [];
  const defaultHandler = readDefaultHandler(env, dataDir, handlerProblems);
  const defaultOf = <T extends HandlerSpec["type"]>(type: T) =>
    defaultHandler?.type === type ? (defaultHandler as Extract<HandlerSpec, { type: T }>) : undefined;
  const storeTimeouts = server && {
    connectTimeoutMs: server.timeouts.storeConnect,
    requestTimeoutMs: server.timeouts.storeRequest,
  };
  const local = readLocal(env, defaultOf("LOCAL")?.dir, problems);
  const s3 = readS3(env, defaultOf("S3")?.bucket, storeTimeouts, problems);
  const gcs = readGcs(env, defaultOf("GCS")?.bucket, server?.timeouts.storeRequest, problems);
  const encryption = readEncryption(env, problems);
  const transfers = readTransfers(env, problems);
  if (defaultHandler?.codecs?.includes("aes-256-gcm") && encryption.writeKeyId === undefined) {
    handlerProblems.push("HANDLED_DEFAULT_HANDLER_CODECS: names aes-256-gcm, but HANDLED_ENCRYPTION_KEYS gives no key");
  }
  problems.push(...handlerProblems);
  if (!server || !defaultHandler || !local || !s3 || !gcs || !transfers || problems.length > 0) {
    // One line, as a supervisor's log shows it.
    throw new ConfigError(`Invalid configuration, fix and restart: ${problems.join("; ")}`);
  }
  const { jsonMaxBytes, ...rest } = server;
  return {
    ...rest,
    dataDir,
    defaultHandler,
    handlers: { JSON: { maxBytes: jsonMaxBytes }, LOCAL: local, S3: s3, GCS: gcs },
    encryption,
    transfers,
  };
}
