import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ErrorCode, HandledError } from "../../errors.js";
import { type Bounds, checkBounds } from "../bounds.js";

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
 * Parses a bucket handle and checks it names this handler's bucket and a key under its prefix,
 * within the caller's bounds. Throws BAD_USER_INPUT when the handle is not a `<scheme>://bucket/key`
 * URI, and HANDLE_OUT_OF_BOUNDS when it names another bucket, a key outside the prefix or a
 * place of another project.
 */
export function locateObject(
  handle: string,
  scheme: "s3" | "gs",
  bucket: string,
  prefix: string | undefined,
  bounds?: Bounds,
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
  // The handler's prefix may hold another project's (a prefix of its own, below).
  checkBounds(handle, bounds, `The handle "${handle}"`);
  return { bucket, key };
}

/** What places a bucket handler: its bucket, and the prefix its keys are written under. */
type BucketSpec = { bucket: string; prefix?: string | undefined };

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

/**
 * Throws HANDLE_OUT_OF_BOUNDS unless `bucket` is one of the buckets the server may use, and the
 * spec's place is within the caller's bounds.
 */
export function checkBucket(
  scheme: "s3" | "gs",
  spec: BucketSpec,
  buckets: readonly string[],
  bounds: Bounds | undefined,
): void {
  const store = scheme === "s3" ? "S3" : "GCS";
  if (!buckets.includes(spec.bucket)) {
    throw new HandledError(
      ErrorCode.HANDLE_OUT_OF_BOUNDS,
      `The ${store} bucket "${spec.bucket}" is not one this server may read and write.`,
    );
  }
  const place = bucketLocation(scheme, spec);
  checkBounds(place, bounds, `The ${store} place "${place}"`);
}

/** Where a bucket handler writes, as a URI: `s3://bucket/prefix`. */
export function bucketPlace(scheme: "s3" | "gs", spec: BucketSpec): string {
  return `${scheme}://${spec.bucket}/${spec.prefix ?? ""}`;
}

/** Where a bucket handler writes, as a place to compare (see Bounds): `s3://bucket` or `s3://bucket/prefix`. */
function bucketLocation(scheme: "s3" | "gs", spec: BucketSpec): string {
  return spec.prefix ? `${scheme}://${spec.bucket}/${spec.prefix}` : `${scheme}://${spec.bucket}`;
}

/** The spec a project's place `s3://bucket[/prefix]` names, when it has the scheme. */
function bucketFromPlace(scheme: "s3" | "gs", type: string, place: string): unknown {
  const match = new RegExp(`^${scheme}://([^/]*)/?(.*)$`).exec(place);
  if (!match) return undefined;
  return { type, bucket: match[1], ...(match[2] ? { prefix: match[2] } : {}) };
}

/** What a bucket handler type says of places and reach (see HandlerDefinition): the same for S3 and GCS. */
export function bucketReach<Options extends { buckets: readonly string[] }>(scheme: "s3" | "gs", type: string) {
  return {
    fromPlace: (place: string) => bucketFromPlace(scheme, type, place),
    locate: async (spec: BucketSpec) => bucketLocation(scheme, spec),
    checkReach: async (spec: BucketSpec, options: Options, bounds?: Bounds) =>
      checkBucket(scheme, spec, options.buckets, bounds),
  };
}
