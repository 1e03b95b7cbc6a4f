import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { StartupError } from "../errors.js";
import { bytes, duration, type Env, MiB, parseEnv } from "./env.js";

/** How large results move: presigned and streamed uploads and downloads. */
export interface TransfersConfig {
  /**
   * The secret upload and download tokens are signed with (HANDLED_SIGNING_SECRET); when unset,
   * one kept in the data folder (see readSigningSecret). Every replica must share it.
   */
  signingSecret: string | undefined;
  /** The API's address as clients reach it (scheme://host[:port]); from each request when unset. */
  publicUrl: string | undefined;
  /** How long a prepared upload's URL (and its handle) is good for, in milliseconds. */
  uploadExpiryMs: number;
  /** The longest a download URL may be asked to last, in milliseconds. */
  maxDownloadExpiryMs: number;
  /** Largest result accepted on the upload paths, in bytes. */
  maxUploadBytes: number;
}

const transfersEnv = z.object({
  HANDLED_SIGNING_SECRET: z
    .string()
    .min(32, "must be at least 32 characters (e.g. openssl rand -base64 32)")
    .optional(),
  HANDLED_PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/, "must be scheme://host[:port][/path], e.g. https://api.example.com")
    .transform((url) => url.replace(/\/+$/, ""))
    .optional(),
  HANDLED_UPLOAD_URL_EXPIRY: duration("15m"),
  HANDLED_DOWNLOAD_URL_MAX_EXPIRY: duration("1h"),
  HANDLED_MAX_UPLOAD_BYTES: bytes(5 * 1024 * MiB),
});

/** Reads the transfer settings; problems name variables, never the secret. */
export function readTransfers(env: Env, problems: string[]): TransfersConfig | undefined {
  const e = parseEnv(transfersEnv, env, problems);
  if (!e) return undefined;
  const checks: [boolean, string][] = [
    [e.HANDLED_UPLOAD_URL_EXPIRY >= 1000, "HANDLED_UPLOAD_URL_EXPIRY: must be at least 1s"],
    [e.HANDLED_UPLOAD_URL_EXPIRY <= 7 * 86_400_000, "HANDLED_UPLOAD_URL_EXPIRY: may be at most 7d (S3's limit)"],
    [e.HANDLED_DOWNLOAD_URL_MAX_EXPIRY >= 1000, "HANDLED_DOWNLOAD_URL_MAX_EXPIRY: must be at least 1s"],
    [
      e.HANDLED_DOWNLOAD_URL_MAX_EXPIRY <= 7 * 86_400_000,
      "HANDLED_DOWNLOAD_URL_MAX_EXPIRY: may be at most 7d (S3's and GCS's limit)",
    ],
  ];
  const failed = checks.filter(([ok]) => !ok).map(([, problem]) => problem);
  problems.push(...failed);
  if (failed.length > 0) return undefined;
  return {
    signingSecret: e.HANDLED_SIGNING_SECRET,
    publicUrl: e.HANDLED_PUBLIC_URL,
    uploadExpiryMs: e.HANDLED_UPLOAD_URL_EXPIRY,
    maxDownloadExpiryMs: e.HANDLED_DOWNLOAD_URL_MAX_EXPIRY,
    maxUploadBytes: e.HANDLED_MAX_UPLOAD_BYTES,
  };
}

/** Where a generated signing secret is kept, under the data folder. */
export const SECRET_FILE = "signing-secret";

/**
 * The signing secret: HANDLED_SIGNING_SECRET, or the one kept in `<dataDir>/signing-secret`,
 * made (32 random bytes, readable by this user only) the first time. A laptop's tokens then
 * survive restarts; replicas must be given one secret instead. A start-up failure names the
 * file and what to do, never the secret.
 */
export async function readSigningSecret(
  config: TransfersConfig,
  dataDir: string,
): Promise<{ secret: string; generated?: string }> {
  if (config.signingSecret) return { secret: config.signingSecret };
  const file = join(dataDir, SECRET_FILE);
  try {
    const kept = (await readFile(file, "utf8")).trim();
    if (kept.length >= 32) return { secret: kept };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new StartupError(`Cannot read ${file}: fix its permissions, or set HANDLED_SIGNING_SECRET.`, {
        cause: error,
      });
    }
  }
  const secret = randomBytes(32).toString("base64url");
  try {
    await mkdir(dataDir, { recursive: true });
    // "wx": of two processes starting on one data folder, the second reads the first's.
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
    await chmod(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readSigningSecret(config, dataDir);
    throw new StartupError(
      `Cannot keep a signing secret in ${file}: make the data folder writable, or set HANDLED_SIGNING_SECRET.`,
      { cause: error },
    );
  }
  return { secret, generated: file };
}
