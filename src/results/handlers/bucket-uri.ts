import { randomUUID } from "node:crypto";
import { ErrorCode, HandledError } from "../../errors.js";

/** Where an object lives: the parts of an `s3://bucket/key` or `gs://bucket/key` handle. */
export interface ObjectLocation {
  bucket: string;
  key: string;
}

/** The key a new result gets: a random name under the prefix. */
export function newObjectKey(prefix: string | undefined): string {
  return `${prefix ? `${prefix}/` : ""}${randomUUID()}.json`;
}

/**
 * Parses a bucket handle and checks it names this handler's bucket and a key under its prefix.
 * Throws BAD_USER_INPUT when the handle is not a `<scheme>://bucket/key` URI, and
 * HANDLE_OUT_OF_BOUNDS when it names another bucket or a key outside the prefix.
 */
export function locateObject(handle: string, scheme: "s3" | "gs", bucket: string, prefix: string | undefined): ObjectLocation {
  const match = new RegExp(`^${scheme}://([^/]+)/(.+)$`).exec(handle);
  if (!match) {
    throw new HandledError(ErrorCode.BAD_USER_INPUT, `A ${scheme === "s3" ? "S3" : "GCS"} handle must look like ${scheme}://bucket/key.`);
  }
  const [, handleBucket, key] = match as unknown as [string, string, string];
  if (handleBucket !== bucket) {
    throw new HandledError(
      ErrorCode.HANDLE_OUT_OF_BOUNDS,
      `The handle names the bucket "${handleBucket}", not this handler's bucket "${bucket}".`,
    );
  }
  // Keys are literal in object stores, but `..`, `.` or empty segments would let a key look as if
  // it were under the prefix while a proxy or a file-backed store maps it elsewhere.
  const segments = key.split("/");
  const underPrefix = !prefix || key.startsWith(`${prefix}/`);
  if (!underPrefix || segments.some((s) => s === ".." || s === "." || s === "")) {
    throw new HandledError(ErrorCode.HANDLE_OUT_OF_BOUNDS, `The key "${key}" is outside this handler's prefix "${prefix ?? ""}".`);
  }
  return { bucket, key };
}

/**
 * Whether a store client gave up waiting: the AWS SDK's TimeoutError (connection or silent
 * socket), an aborted request, or a GCS request past its timeout.
 */
export function isStoreTimeout(cause: unknown): boolean {
  const e = cause as { name?: unknown; type?: unknown; code?: unknown; message?: unknown };
  return (
    e?.name === "TimeoutError" ||
    e?.name === "AbortError" ||
    e?.type === "request-timeout" ||
    e?.code === "ETIMEDOUT" ||
    (typeof e?.message === "string" && /timed? ?out/i.test(e.message))
  );
}

/**
 * The coded error for a failed read or check of an object: RESULT_NOT_FOUND when the store
 * says it is missing, STORE_TIMEOUT when it did not answer in time, RESULT_READ_FAILED
 * otherwise. The store's error is kept as the cause.
 */
export function objectReadError(handle: string, cause: unknown, missing: boolean): HandledError {
  if (missing) return new HandledError(ErrorCode.RESULT_NOT_FOUND, `No object exists at "${handle}".`, { cause });
  if (isStoreTimeout(cause)) return new HandledError(ErrorCode.STORE_TIMEOUT, `The store did not answer in time reading "${handle}".`, { cause });
  return new HandledError(ErrorCode.RESULT_READ_FAILED, `Cannot read "${handle}".`, { cause });
}

/** The coded error for a failed write to a bucket: STORE_TIMEOUT or RESULT_WRITE_FAILED. */
export function objectWriteError(store: "S3" | "GCS", bucket: string, cause: unknown): HandledError {
  if (isStoreTimeout(cause)) {
    return new HandledError(ErrorCode.STORE_TIMEOUT, `The ${store} bucket "${bucket}" did not answer in time; nothing was recorded.`, { cause });
  }
  return new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot write a result to the ${store} bucket "${bucket}".`, { cause });
}
