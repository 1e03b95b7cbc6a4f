import { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ErrorCode, HandledError } from "../../errors.js";
import type { Handle, ResultHandler } from "../result-handler.js";
import { locateObject, newObjectKey, objectReadError } from "./bucket-uri.js";

/** Options of the S3 handler. */
export interface S3HandlerOptions {
  bucket: string;
  /** Keys are written under `prefix/`; handles outside it are refused. */
  prefix?: string;
  /** A ready client: endpoint, region, path style and credentials are the server's to set. */
  client: S3Client;
  /** Size of each part of a multipart upload, in bytes (at least 5 MiB). */
  partSize?: number;
}

const MiB = 1024 * 1024;

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}

/**
 * The value's UTF-8 bytes, a small slice at a time. Given a string, lib-storage would first copy
 * the whole value into one Buffer; from a stream it builds one part at a time, so an upload
 * holds a few parts (about 40 MiB with 8 MiB parts, measured by `npm run bench`) whatever the
 * value's size, besides the value itself.
 */
function utf8Slices(json: string, slice = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let start = 0; start < json.length; ) {
        let end = Math.min(start + slice, json.length);
        // Never cut a surrogate pair in two.
        const last = json.charCodeAt(end - 1);
        if (end < json.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
        yield Buffer.from(json.slice(start, end), "utf8");
        start = end;
      }
    })(),
    { objectMode: false },
  );
}

/**
 * The S3 handler: writes each value to a new object `prefix/<uuid>.json` in its bucket and
 * returns `s3://bucket/key`. Values larger than one part go up as a multipart upload, one part
 * at a time.
 */
export function createS3Handler(options: S3HandlerOptions): ResultHandler {
  const { bucket, prefix, client } = options;
  const partSize = options.partSize ?? 8 * MiB;
  const locate = (handle: Handle) => locateObject(handle, "s3", bucket, prefix);

  return {
    spec: prefix ? { type: "S3", bucket, prefix } : { type: "S3", bucket },

    async write(json) {
      const key = newObjectKey(prefix);
      const bytes = Buffer.byteLength(json);
      try {
        const upload = new Upload({
          client,
          // Small values go up in one PutObject with a known length; large ones in parts.
          params: { Bucket: bucket, Key: key, Body: bytes <= partSize ? json : utf8Slices(json), ContentType: "application/json" },
          partSize,
          queueSize: 1,
          leavePartsOnError: false,
        });
        await upload.done();
      } catch (cause) {
        throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot write a result to the S3 bucket "${bucket}".`, { cause });
      }
      return `s3://${bucket}/${key}`;
    },

    async read(handle) {
      const { key } = locate(handle);
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!object.Body) throw new Error("the object has no body");
        return await object.Body.transformToString("utf8");
      } catch (cause) {
        throw objectReadError(handle, cause, isMissing(cause));
      }
    },

    async verifyHandle(handle) {
      const { key } = locate(handle);
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      } catch (cause) {
        throw objectReadError(handle, cause, isMissing(cause));
      }
    },

    async delete(handle) {
      const { key } = locate(handle);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (cause) {
        if (!isMissing(cause)) throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot delete "${handle}".`, { cause });
      }
    },
  };
}
