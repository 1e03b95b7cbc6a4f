import { pipeline } from "node:stream/promises";
import { type File, Storage } from "@google-cloud/storage";
import { withDeadline } from "../../deadline.js";
import type { Bounds } from "../bounds.js";
import { defineHandler } from "../handler-definition.js";
import { type Handle, largerThanRecorded, type ResultHandler, storedSha256 } from "../result-handler.js";
import { bucketConfig, bucketPlace, bucketReach, checkBucket, locateObject, newObjectKey } from "./bucket-uri.js";

/** How the server reaches Google Cloud Storage (credentials come from Google's usual places). */
export interface GcsSettings {
  /** Buckets GCS handlers may use. */
  buckets: readonly string[];
  projectId: string | undefined;
  /**
   * How long a request may take (the SDK's JSON-API calls), and how long an upload may take or a
   * download go without receiving a byte, in milliseconds.
   */
  requestTimeoutMs: number;
}

/** What GCS handlers are built with: the buckets, and a ready client to reach them with. */
export interface GcsOptions {
  buckets: readonly string[];
  storage: Storage;
  /** See GcsSettings.requestTimeoutMs; default 60 s. */
  requestTimeoutMs?: number;
}

/** Options of one GCS handler. */
interface GcsHandlerOptions extends Omit<GcsOptions, "buckets"> {
  bucket: string;
  /** Keys are written under `prefix/`; handles outside it are refused. */
  prefix?: string | undefined;
  /** The caller's places; anywhere in the bucket when absent. */
  bounds?: Bounds | undefined;
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 404;
}

/**
 * The GCS client of the server: credentials from Google application credentials, or the
 * emulator named by STORAGE_EMULATOR_HOST (which the SDK reads itself). Its JSON-API requests
 * (metadata, deletes) may take `requestTimeoutMs`, with retries bounded to three requests' time;
 * the GCS handler bounds uploads and downloads itself, which the SDK's timeout does not cover.
 */
function createGcsStorage(settings: GcsSettings): Storage {
  const timeout = settings.requestTimeoutMs;
  return new Storage({
    projectId: settings.projectId,
    timeout,
    retryOptions: { autoRetry: true, maxRetries: 2, maxRetryDelay: 2, totalTimeout: Math.ceil((3 * timeout) / 1000) },
  });
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
function createGcsHandler(options: GcsHandlerOptions): ResultHandler {
  const { bucket, prefix, storage, bounds } = options;
  const timeout = options.requestTimeoutMs ?? 60_000;
  const locate = (handle: Handle) => locateObject(handle, "gs", bucket, prefix, bounds);
  const file = (key: string) => storage.bucket(bucket).file(key);

  return {
    async newHandle() {
      return `gs://${bucket}/${newObjectKey(prefix)}`;
    },

    async write(json, at) {
      const key = at === undefined ? newObjectKey(prefix) : locate(at).key;
      // One request: the value is already in memory, and a resumable session would cost
      // an extra round trip for every small result.
      // The SDK's timeout does not end an upload whose answer never comes; this deadline does
      // (the request is left to its socket; an object that lands later is referenced by nothing).
      const upload = file(key).save(json, { resumable: false, contentType: "application/json", timeout });
      await withDeadline(upload, timeout, `no answer from the store within ${timeout} ms`);
      return `gs://${bucket}/${key}`;
    },

    async writeStream(source, at, contentType) {
      const { key } = locate(at);
      // A resumable upload, sent as one request while the stream lasts: no part is held whole.
      const sink = file(key).createWriteStream({ resumable: true, contentType, timeout });
      await pipeline(source, sink);
    },

    async readStream(handle, range) {
      const { key } = locate(handle);
      const object = file(key);
      const [metadata] = await object.getMetadata();
      return { stream: object.createReadStream(range ?? {}), size: Number(metadata.size ?? 0) };
    },

    async presignUpload(at, { contentType, sha256 }) {
      const { key } = locate(at);
      // A resumable upload session: its URL takes the bytes with no credentials, and GCS keeps
      // it for a week; the server records the object only until the upload's expiry. The SHA-256
      // goes with the object as metadata, for the server to record and check on every read.
      const [url] = await file(key).createResumableUpload({
        metadata: { contentType, ...(sha256 ? { metadata: { sha256 } } : {}) },
      });
      return { url, method: "PUT", headers: {} };
    },

    async presignDownload(handle, expiresInSeconds) {
      const { key } = locate(handle);
      const [url] = await file(key).getSignedUrl({
        version: "v4",
        action: "read",
        expires: Date.now() + expiresInSeconds * 1000,
      });
      return url;
    },

    async read(handle, maxBytes) {
      const { key } = locate(handle);
      let contents: Buffer;
      try {
        // One byte more than the limit, at most, tells a larger object without fetching it all.
        contents = await download(file(key), maxBytes === undefined ? {} : { start: 0, end: maxBytes }, timeout);
      } catch (cause) {
        // An empty object has no byte 0 to start a range at.
        if (maxBytes !== undefined && (cause as { code?: unknown }).code === 416) return Buffer.alloc(0);
        throw cause;
      }
      if (maxBytes !== undefined && contents.length > maxBytes) throw largerThanRecorded(`"${handle}"`, maxBytes);
      return contents;
    },

    async readStart(handle, maxBytes) {
      const { key } = locate(handle);
      try {
        const contents = await download(file(key), { start: 0, end: maxBytes - 1 }, timeout);
        return contents.subarray(0, maxBytes);
      } catch (cause) {
        // An empty object has no byte 0 to start a range at.
        if ((cause as { code?: unknown }).code === 416) return Buffer.alloc(0);
        throw cause;
      }
    },

    async verifyHandle(handle) {
      const { key } = locate(handle);
      const [metadata] = await file(key).getMetadata();
      // GCS keeps MD5 and CRC32C, not SHA-256: only what a client wrote as custom metadata.
      const sha256 = storedSha256(undefined, metadata.metadata);
      return { sizeBytes: Number(metadata.size ?? 0), ...(sha256 ? { sha256 } : {}) };
    },

    async delete(handle) {
      const { key } = locate(handle);
      await file(key).delete({ ignoreNotFound: true });
    },
  };
}

/** The GCS handler type: objects in the buckets the server may use. */
export const gcsHandler = defineHandler({
  type: "GCS",
  config: bucketConfig,
  noun: "object",
  describe: ({ bucket }) => `the GCS bucket "${bucket}"`,
  place: (spec) => bucketPlace("gs", spec),
  isMissing,
  // A client only where buckets are configured: no SDK is set up for a store the server never uses.
  connect: (settings: GcsSettings): GcsOptions | undefined =>
    settings.buckets.length === 0
      ? undefined
      : { buckets: settings.buckets, storage: createGcsStorage(settings), requestTimeoutMs: settings.requestTimeoutMs },
  ...bucketReach<GcsOptions>("gs", "GCS"),
  create: ({ bucket, prefix }, { buckets, storage, requestTimeoutMs }, bounds) => {
    checkBucket("gs", { bucket, prefix }, buckets, bounds);
    return createGcsHandler({ bucket, prefix, storage, requestTimeoutMs, bounds });
  },
});
