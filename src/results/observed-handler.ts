import { ErrorCode, HandledError } from "../errors.js";
import type { Metrics } from "../metrics.js";
import type { HandlerType } from "./handler-spec.js";
import type { Handle, ResultHandler } from "./result-handler.js";

/** The metrics every handler call is counted in. */
export type HandlerMetrics = Pick<Metrics, "handlerDuration" | "handlerBytes" | "handlerErrors">;

/** Where and how a handler call failed: what a log line says of it (never a value). */
export interface StorageFailure {
  handler: HandlerType;
  call: string;
  code: string;
  /** The file or object (or the directory or bucket written to); none for JSON handles, which are values. */
  location?: string;
  /** The store's side of it: an error name or code. */
  cause?: string;
}

/** Failures of the storage itself: an operator has something to fix. Others are clients' or data's. */
const STORAGE_FAILURES = new Set<string>([
  ErrorCode.RESULT_WRITE_FAILED,
  ErrorCode.RESULT_READ_FAILED,
  ErrorCode.STORE_TIMEOUT,
]);

const failures = new WeakMap<object, StorageFailure>();

/**
 * The storage failure behind an error a handler threw, for the request's log line (see the
 * logging plugin in graphql/apollo.ts), when it is one an operator should see.
 */
export function storageFailureOf(error: unknown): StorageFailure | undefined {
  return typeof error === "object" && error !== null ? failures.get(error) : undefined;
}

/**
 * Wraps a handler of type `type` so that each call is timed and counted by handler type, and each storage
 * failure keeps where it happened (storageFailureOf) for the log line of the request it failed.
 * `place` is where the handler writes (a directory, a bucket URI): none when its handles are
 * values (JSON), which are then never kept either; other handles are paths and URIs.
 */
export function observeHandler(
  handler: ResultHandler,
  metrics: HandlerMetrics,
  type: HandlerType,
  place: string | undefined,
): ResultHandler {
  async function observe<T>(
    call: string,
    handle: Handle | undefined,
    run: () => Promise<T>,
    bytesOf?: (result: T) => number,
  ): Promise<T> {
    const end = metrics.handlerDuration.startTimer({ handler: type, call });
    try {
      const result = await run();
      end({ outcome: "ok" });
      if (bytesOf) metrics.handlerBytes.inc({ handler: type, call }, bytesOf(result));
      return result;
    } catch (error) {
      const code = error instanceof HandledError ? error.code : "INTERNAL_SERVER_ERROR";
      end({ outcome: code });
      metrics.handlerErrors.inc({ handler: type, call, code });
      if (
        typeof error === "object" &&
        error !== null &&
        (STORAGE_FAILURES.has(code) || !(error instanceof HandledError))
      ) {
        const cause = (error instanceof HandledError ? error.cause : error) as
          | { name?: unknown; code?: unknown }
          | undefined;
        const detail = [cause?.name, cause?.code]
          .filter((part) => typeof part === "string" || typeof part === "number")
          .join(" ");
        failures.set(error, {
          handler: type,
          call,
          code,
          ...(place === undefined ? {} : { location: handle ?? place }),
          ...(detail ? { cause: detail } : {}),
        });
      }
      throw error;
    }
  }

  return {
    write: (json, at) =>
      observe(
        "write",
        undefined,
        () => handler.write(json, at),
        () => json.length,
      ),
    ...(handler.newHandle ? { newHandle: () => handler.newHandle!() } : {}),
    // Timed and counted as calls; their bytes are not counted (a stream's length is its caller's to know).
    ...(handler.writeStream
      ? {
          writeStream: (source, at, contentType) =>
            observe("writeStream", at, () => handler.writeStream!(source, at, contentType)),
        }
      : {}),
    ...(handler.readStream
      ? { readStream: (handle, range) => observe("readStream", handle, () => handler.readStream!(handle, range)) }
      : {}),
    ...(handler.presignUpload
      ? { presignUpload: (at, options) => observe("presignUpload", at, () => handler.presignUpload!(at, options)) }
      : {}),
    ...(handler.presignDownload
      ? {
          presignDownload: (handle, expires) =>
            observe("presignDownload", handle, () => handler.presignDownload!(handle, expires)),
        }
      : {}),
    read: (handle, maxBytes) =>
      observe(
        "read",
        handle,
        () => handler.read(handle, maxBytes),
        (bytes) => bytes.length,
      ),
    readStart: (handle, maxBytes) =>
      observe(
        "readStart",
        handle,
        () => handler.readStart(handle, maxBytes),
        (bytes) => bytes.length,
      ),
    verifyHandle: (handle) => observe("verifyHandle", handle, () => handler.verifyHandle(handle)),
    ...(handler.delete ? { delete: (handle: Handle) => observe("delete", handle, () => handler.delete!(handle)) } : {}),
  };
}
