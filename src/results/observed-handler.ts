import { loggerOf, type Logger } from "../logger.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Metrics } from "../metrics.js";
import type { HandlerSpec } from "./handler-spec.js";
import type { Handle, ResultHandler } from "./result-handler.js";

/** What watches handler calls: metrics for every call, a log line for every failure. */
export interface HandlerObserver {
  metrics: Pick<Metrics, "handlerDuration" | "handlerBytes" | "handlerErrors">;
  logger: Logger;
}

/** Failures of the storage itself: an operator has something to fix. Others are clients' or data's. */
const STORAGE_FAILURES = new Set<string>([ErrorCode.RESULT_WRITE_FAILED, ErrorCode.RESULT_READ_FAILED, ErrorCode.STORE_TIMEOUT]);

/** Where a handler writes, for people: a directory or a bucket URI. A JSON handler writes nowhere. */
function placeOf(spec: HandlerSpec): string | undefined {
  switch (spec.type) {
    case "JSON":
      return undefined;
    case "LOCAL":
      return spec.dir;
    case "S3":
      return `s3://${spec.bucket}/${spec.prefix ?? ""}`;
    case "GCS":
      return `gs://${spec.bucket}/${spec.prefix ?? ""}`;
  }
}

/**
 * Wraps a handler so that each call is timed and counted, by handler type, and each failure is
 * logged once (with the request's id) with the handler type and where the data is. A JSON handle is the value itself,
 * so it is never logged; other handles are paths and URIs, which are.
 */
export function observeHandler(handler: ResultHandler, observer: HandlerObserver): ResultHandler {
  const { metrics, logger } = observer;
  const type = handler.spec.type;

  async function observe<T>(call: string, handle: Handle | undefined, run: () => Promise<T>, bytesOf?: (result: T) => number): Promise<T> {
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
      const cause = (error instanceof HandledError ? error.cause : error) as { name?: unknown; code?: unknown } | undefined;
      const detail = {
        handler: type,
        call,
        code,
        location: type === "JSON" ? undefined : (handle ?? placeOf(handler.spec)),
        // The store's side of it (an error name or code), never a value.
        cause: [cause?.name, cause?.code].filter((part) => typeof part === "string" || typeof part === "number").join(" ") || undefined,
      };
      const log = loggerOf(logger);
      if (STORAGE_FAILURES.has(code)) log.error(detail, `result ${call} failed: ${error instanceof Error ? error.message : "unknown error"}`);
      else if (!(error instanceof HandledError)) log.error(detail, `result ${call} failed unexpectedly`);
      else log.debug(detail, `result ${call} refused: ${error.message}`);
      throw error;
    }
  }

  return {
    spec: handler.spec,
    write: (json) => observe("write", undefined, () => handler.write(json), () => json.length),
    read: (handle, maxBytes) => observe("read", handle, () => handler.read(handle, maxBytes), (text) => Buffer.byteLength(text)),
    readStart: (handle, maxBytes) => observe("readStart", handle, () => handler.readStart(handle, maxBytes), (bytes) => bytes.length),
    verifyHandle: (handle) => observe("verifyHandle", handle, () => handler.verifyHandle(handle)),
    ...(handler.delete ? { delete: (handle: Handle) => observe("delete", handle, () => handler.delete!(handle)) } : {}),
  };
}
