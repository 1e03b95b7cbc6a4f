import type { File, Storage } from "@google-cloud/storage";
import { withDeadline } from "../../deadline.js";
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
  /**
   * How long an upload may take, and a download may go without receiving a byte, in
   * milliseconds (the SDK's own timeout covers neither). Default 60 s.
   */
  requestTimeoutMs?: number;
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown }).code === 404;
}

/** Connection errors a new attempt may not meet: a kept-alive socket the store had closed. */
const RESET = new Set(["ECONNRESET", "EPIPE"]);

/**
 * Downloads an object (or a range of it), failing with a TimeoutError when no bytes arrive for
 * `idleMs`: a store that stops answering mid-body does not hold the request. A connection reset
 * is tried again, three attempts in all, as the S3 client does (the SDK retries its JSON-API
 * calls, not downloads).
 */
async function download(object: File, range: { start?: number; end?: number }, idleMs: number): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await downloadOnce(object, range, idleMs);
    } catch (error) {
      if (attempt >= 3 || !RESET.has(String((error as { code?: unknown }).code))) throw error;
    }
  }
}

async function downloadOnce(object: File, range: { start?: number; end?: number }, idleMs: number): Promise<Buffer> {
  const stream = object.createReadStream(range);
  let answered = false;
  stream.once("response", () => {
    answered = true;
  });
  let giveUp: (error: Error) => void = () => undefined;
  const stalled = new Promise<never>((_, reject) => {
    giveUp = reject;
  });
  const timer = setTimeout(() => {
    const error = Object.assign(new Error(`no data from the store for ${idleMs} ms`), { name: "TimeoutError" });
    if (answered) {
      stream.destroy(error);
      return;
    }
    // Destroyed before the store answers, the stream would get the answer piped into it anyway,
    // which Node 24 turns into an unhandled rejection inside the SDK: it is destroyed once the
    // answer comes (or ends with the request, at the client's own timeout).
    stream.on("error", () => undefined);
    stream.once("response", () => setImmediate(() => stream.destroy()));
    giveUp(error);
  }, idleMs);
  const read = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      timer.refresh();
    }
    return Buffer.concat(chunks);
  })();
  try {
    return await Promise.race([read, stalled]);
  } catch (error) {
    // A read given up on still ends (destroyed later): its failure is this one.
    read.catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The GCS handler: writes each value to a new object `prefix/<uuid>.json` in its bucket and
 * returns `gs://bucket/key`.
 */
export function createGcsHandler(options: GcsHandlerOptions): ResultHandler {
  const { bucket, prefix, storage } = options;
  const timeout = options.requestTimeoutMs ?? 60_000;
  const locate = (handle: Handle) => locateObject(handle, "gs", bucket, prefix);
  const file = (key: string) => storage.bucket(bucket).file(key);

  return {
    spec: prefix ? { type: "GCS", bucket, prefix } : { type: "GCS", bucket },

    async write(json) {
      const key = newObjectKey(prefix);
      try {
        // One request: the value is already in memory, and a resumable session would cost
        // an extra round trip for every small result.
        // The SDK's timeout does not end an upload whose answer never comes; this deadline does
        // (the request is left to its socket; an object that lands later is referenced by nothing).
        const upload = file(key).save(json, { resumable: false, contentType: "application/json", timeout });
        await withDeadline(upload, timeout, `no answer from the store within ${timeout} ms`);
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
        contents = await download(file(key), maxBytes === undefined ? {} : { start: 0, end: maxBytes }, timeout);
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
        const contents = await download(file(key), { start: 0, end: maxBytes - 1 }, timeout);
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
