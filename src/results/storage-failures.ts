import { ErrorCode, HandledError } from "../errors.js";
import type { Handle, ResultHandler } from "./result-handler.js";

/** What codeFailures needs to know of a handler type to word its failures. */
export interface FailureWording {
  /** What one piece of stored data is called ("file", "object"). */
  noun: string;
  /** Where the handler writes ('the S3 bucket "results"'); none when its handles are values. */
  destination: string | undefined;
  /** Whether a storage error means the data is not there. */
  isMissing(cause: unknown): boolean;
}

/**
 * Whether a store gave up waiting: the AWS SDK's TimeoutError (connection or silent socket), an
 * aborted request, a GCS request past its timeout, a file system that timed out.
 */
function isStoreTimeout(cause: unknown): boolean {
  const e = cause as { name?: unknown; type?: unknown; code?: unknown; message?: unknown };
  return (
    e?.name === "TimeoutError" ||
    e?.name === "AbortError" ||
    e?.type === "request-timeout" ||
    e?.code === "ETIMEDOUT" ||
    (typeof e?.message === "string" && /timed? ?out/i.test(e.message))
  );
}

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * The one place storage failures get their codes. A handler throws a HandledError for what it
 * decides itself (a handle out of bounds or of the wrong form, data larger than recorded) and its
 * storage's own error for everything else; this wrapper turns the latter into:
 * - RESULT_NOT_FOUND when the storage says the data is missing (a delete of missing data succeeds);
 * - STORE_TIMEOUT when the storage did not answer in time;
 * - RESULT_WRITE_FAILED for writes and deletes, RESULT_READ_FAILED for reads and checks;
 * keeping the storage's error as the cause. Handles appear in messages; a handler whose handles
 * are values (JSON) never throws a storage error, so its handles never do.
 */
export function codeFailures(handler: ResultHandler, wording: FailureWording): ResultHandler {
  const { noun, destination, isMissing } = wording;
  const where = destination ?? "the store";

  function readFailure(handle: Handle, cause: unknown): HandledError {
    if (cause instanceof HandledError) return cause;
    if (isMissing(cause))
      return new HandledError(ErrorCode.RESULT_NOT_FOUND, `No ${noun} exists at "${handle}".`, { cause });
    if (isStoreTimeout(cause)) {
      return new HandledError(ErrorCode.STORE_TIMEOUT, `The store did not answer in time reading "${handle}".`, {
        cause,
      });
    }
    return new HandledError(ErrorCode.RESULT_READ_FAILED, `Cannot read "${handle}".`, { cause });
  }

  async function reading<T>(handle: Handle, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      throw readFailure(handle, cause);
    }
  }

  async function writing<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      if (cause instanceof HandledError) throw cause;
      if (isStoreTimeout(cause)) {
        throw new HandledError(
          ErrorCode.STORE_TIMEOUT,
          `${capitalised(where)} did not answer in time; nothing was recorded.`,
          { cause },
        );
      }
      throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot write a result to ${where}.`, { cause });
    }
  }

  const coded: ResultHandler = {
    write: (json, at) => writing(() => handler.write(json, at)),
    read: (handle, maxBytes) => reading(handle, () => handler.read(handle, maxBytes)),
    readStart: (handle, maxBytes) => reading(handle, () => handler.readStart(handle, maxBytes)),
    verifyHandle: (handle) => reading(handle, () => handler.verifyHandle(handle)),
  };
  const { newHandle, writeStream, readStream, presignUpload, presignDownload } = handler;
  if (newHandle) coded.newHandle = () => writing(() => newHandle.call(handler));
  if (writeStream) {
    coded.writeStream = (source, at, contentType) => writing(() => writeStream.call(handler, source, at, contentType));
  }
  if (readStream) coded.readStream = (handle, range) => reading(handle, () => readStream.call(handler, handle, range));
  if (presignUpload) coded.presignUpload = (at, options) => writing(() => presignUpload.call(handler, at, options));
  if (presignDownload) {
    coded.presignDownload = (handle, expires) => reading(handle, () => presignDownload.call(handler, handle, expires));
  }
  const remove = handler.delete?.bind(handler);
  if (remove) {
    coded.delete = async (handle) => {
      try {
        await remove(handle);
      } catch (cause) {
        if (cause instanceof HandledError) throw cause;
        if (isMissing(cause)) return;
        throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot delete "${handle}".`, { cause });
      }
    };
  }
  return coded;
}
