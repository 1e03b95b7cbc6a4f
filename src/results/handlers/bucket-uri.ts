import { randomUUID } from "node:crypto";
import { z } from "zod";
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
export function locateObject(
  handle: string,
  scheme: "s3" | "gs",
  bucket: string,
  prefix: string | undefined,
): ObjectLocation {
  const match = new RegExp(`^${scheme}://([^/]+)/(.+)$`).exec(handle);
  if (!match) {
    throw new HandledError(
      ErrorCode.BAD_USER_INPUT,
      `A ${scheme === "s3" ? "S3" : "GCS"} handle must look like ${scheme}://bucket/key.`,
    );
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
    throw new HandledError(
      ErrorCode.HANDLE_OUT_OF_BOUNDS,
      `The key "${key}" is outside this handler's prefix "${prefix ?? ""}".`,
    );
  }
  return { bucket, key };
}

/** Bucket names as both clouds allow them (3-63 lowercase letters, digits, dots, dashes). */
const bucket = z
  .string({ error: "is required for S3 and GCS" })
  .regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/, "must be a valid bucket name (3-63 characters: a-z 0-9 . - _)");

/** A key prefix: safe characters, no `.` or `..` segments, no leading or trailing slash kept. */
const prefix = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9!_.*'()/-]*$/, "may hold only letters, digits and !_.*'()/-")
  .refine((p) => !p.split("/").some((part) => part === ".." || part === "."), "may not contain . or .. segments")
  .transform((p) => p.replace(/^\/+|\/+$/g, ""))
  .optional();

/** The config of a bucket handler type: a bucket, and a prefix its keys are written under. */
export const bucketConfig = { bucket, prefix };

/** Throws HANDLE_OUT_OF_BOUNDS unless `bucket` is one of the buckets the server may use. */
export function checkBucket(store: string, bucket: string, buckets: readonly string[]): void {
  if (!buckets.includes(bucket)) {
    throw new HandledError(
      ErrorCode.HANDLE_OUT_OF_BOUNDS,
      `The ${store} bucket "${bucket}" is not one this server may read and write.`,
    );
  }
}

/** Where a bucket handler writes, as a URI: `s3://bucket/prefix`. */
export function bucketPlace(scheme: "s3" | "gs", spec: { bucket: string; prefix?: string | undefined }): string {
  return `${scheme}://${spec.bucket}/${spec.prefix ?? ""}`;
}
