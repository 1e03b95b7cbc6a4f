import { S3Client } from "@aws-sdk/client-s3";
import { Storage } from "@google-cloud/storage";
import type { GcsConfig, S3Config, Timeouts } from "../config/config.js";

/** How long the store clients wait, in milliseconds. */
export type StoreTimeouts = Pick<Timeouts, "storeConnect" | "storeRequest">;

/**
 * The S3 client of the server. A connection not made within `storeConnect`, or a socket
 * silent for `storeRequest` (a store that stopped answering, before or while it sends a body),
 * fails the attempt; three attempts at most, so a dead store fails a request with
 * STORE_TIMEOUT instead of holding it.
 */
export function createS3Client(config: S3Config, timeouts: StoreTimeouts): S3Client {
  return new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials: config.credentials,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: timeouts.storeConnect, socketTimeout: timeouts.storeRequest },
  });
}

/**
 * The GCS client of the server: credentials from Google application credentials, or the
 * emulator named by STORAGE_EMULATOR_HOST (which the SDK reads itself). Its JSON-API requests
 * (metadata, deletes) may take `storeRequest`, with retries bounded to three requests' time;
 * the GCS handler bounds uploads and downloads itself, which the SDK's timeout does not cover.
 */
export function createGcsStorage(config: GcsConfig, timeouts: StoreTimeouts): Storage {
  return new Storage({
    projectId: config.projectId,
    timeout: timeouts.storeRequest,
    retryOptions: { autoRetry: true, maxRetries: 2, maxRetryDelay: 2, totalTimeout: Math.ceil((3 * timeouts.storeRequest) / 1000) },
  });
}
