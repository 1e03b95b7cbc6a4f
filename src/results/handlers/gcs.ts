import type { Storage } from "@google-cloud/storage";
import { ErrorCode, HandledError } from "../../errors.js";
import { largerThanRecorded, type Handle, type ResultHandler } from "../result-handler.js";
import { locateObject, newObjectKey, objectReadError, objectWriteError } from "./bucket-uri.js";

/** Options of the GCS handler. */
export interface GcsHandlerOptions {
  bucket: string;
  /** Keys are written under `prefix/`; handles outside it are refused. */
  prefix?: string;
  /** A ready client: project, credentials and emulator host are the server's to set. */
  storage: Storage;
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown }).code === 404;
}

/**
 * The GCS handler: writes each value to a new object `prefix/<uuid>.json` in its bucket and
 * returns `gs://bucket/key`.
 */
export function createGcsHandler(options: GcsHandlerOptions): ResultHandler {
  const { bucket, prefix, storage } = options;
  const locate = (handle: Handle) => locateObject(handle, "gs", bucket, prefix);
  const file = (key: string) => storage.bucket(bucket).file(key);

  return {
    spec: prefix ? { type: "GCS", bucket, prefix } : { type: "GCS", bucket },

    async write(json) {
      const key = newObjectKey(prefix);
      try {
        // One request: the value is already in memory, and a resumable session would cost
        // an extra round trip for every small result.
        await file(key).save(json, { resumable: false, contentType: "application/json" });
      } catch (cause) {
        throw objectWriteError("GCS", bucket, cause);
      }
      return `gs://${bucket}/${key}`;
    },

    async read(handle, maxBytes) {
      const { key } = locate(handle);
      let contents: Buffer;
      try {
        // One byte more than the limit, at most, tells a larger object without fetching it all.
        [contents] = await file(key).download(maxBytes === undefined ? {} : { start: 0, end: maxBytes });
      } catch (cause) {
        // An empty object has no byte 0 to start a range at.
        if (maxBytes !== undefined && (cause as { code?: unknown }).code === 416) return "";
        throw objectReadError(handle, cause, isMissing(cause));
      }
      if (maxBytes !== undefined && contents.length > maxBytes) throw largerThanRecorded(`"${handle}"`, maxBytes);
      return contents.toString("utf8");
    },

    async readStart(handle, maxBytes) {
      const { key } = locate(handle);
      try {
        const [contents] = await file(key).download({ start: 0, end: maxBytes - 1 });
        return contents.subarray(0, maxBytes);
      } catch (cause) {
        // An empty object has no byte 0 to start a range at.
        if ((cause as { code?: unknown }).code === 416) return Buffer.alloc(0);
        throw objectReadError(handle, cause, isMissing(cause));
      }
    },

    async verifyHandle(handle) {
      const { key } = locate(handle);
      try {
        const [metadata] = await file(key).getMetadata();
        return { sizeBytes: Number(metadata.size ?? 0) };
      } catch (cause) {
        throw objectReadError(handle, cause, isMissing(cause));
      }
    },

    async delete(handle) {
      const { key } = locate(handle);
      try {
        await file(key).delete({ ignoreNotFound: true });
      } catch (cause) {
        throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot delete "${handle}".`, { cause });
      }
    },
  };
}
