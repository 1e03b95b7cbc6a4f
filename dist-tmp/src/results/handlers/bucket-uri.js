import { randomUUID } from "node:crypto";
import { ErrorCode, HandledError } from "../../errors.js";
/** The key a new result gets: a random name under the prefix. */
export function newObjectKey(prefix) {
    return `${prefix ? `${prefix}/` : ""}${randomUUID()}.json`;
}
/**
 * Parses a bucket handle and checks it names this handler's bucket and a key under its prefix.
 * Throws BAD_USER_INPUT when the handle is not a `<scheme>://bucket/key` URI, and
 * HANDLE_OUT_OF_BOUNDS when it names another bucket or a key outside the prefix.
 */
export function locateObject(handle, scheme, bucket, prefix) {
    const match = new RegExp(`^${scheme}://([^/]+)/(.+)$`).exec(handle);
    if (!match) {
        throw new HandledError(ErrorCode.BAD_USER_INPUT, `A ${scheme === "s3" ? "S3" : "GCS"} handle must look like ${scheme}://bucket/key.`);
    }
    const [, handleBucket, key] = match;
    if (handleBucket !== bucket) {
        throw new HandledError(ErrorCode.HANDLE_OUT_OF_BOUNDS, `The handle names the bucket "${handleBucket}", not this handler's bucket "${bucket}".`);
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
 * The coded error for a failed read or check of an object: RESULT_NOT_FOUND when the store
 * says it is missing, RESULT_READ_FAILED otherwise. The store's error is kept as the cause.
 */
export function objectReadError(handle, cause, missing) {
    return missing
        ? new HandledError(ErrorCode.RESULT_NOT_FOUND, `No object exists at "${handle}".`, { cause })
        : new HandledError(ErrorCode.RESULT_READ_FAILED, `Cannot read "${handle}".`, { cause });
}
//# sourceMappingURL=bucket-uri.js.map