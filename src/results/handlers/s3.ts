import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ErrorCode, HandledError } from "../../errors.js";
import { largerThanRecorded, type Handle, type ResultHandler } from "../result-handler.js";
import { locateObject, newObjectKey, objectReadError, objectWriteError } from "./bucket-uri.js";

/** Options of the S3 handler. */
export interface S3HandlerOptions {
  bucket: string;
  /** Keys are written under `prefix/`; handles outside it are refused. */
  prefix?: string;
  /** A ready client: endpoint, region, path style and credentials are the server's to set. */
  client: S3Client;
  /** Size of each part of a multipart upload, in bytes (at least 5 MiB). */
  partSize?: number;
  /** Values up to this many bytes go up in one PutObject; larger ones in parts. */
  multipartThreshold?: number;
}

const MiB = 1024 * 1024;

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}

/**
 * The S3 handler: writes each value to a new object `prefix/<uuid>.json` in its bucket and
 * returns `s3://bucket/key`. Values up to the multipart threshold go up in one PutObject (one
 * request, as fast as the SDK allows); larger ones as a multipart upload, one part at a time.
 */
export function createS3Handler(options: S3HandlerOptions): ResultHandler {
  const { bucket, prefix, client } = options;
  const partSize = options.partSize ?? 8 * MiB;
  const multipartThreshold = Math.max(options.multipartThreshold ?? 16 * MiB, partSize);
  const locate = (handle: Handle) => locateObject(handle, "s3", bucket, prefix);

  return {
    spec: prefix ? { type: "S3", bucket, prefix } : { type: "S3", bucket },

    async write(json) {
      const key = newObjectKey(prefix);
      const params = { Bucket: bucket, Key: key, Body: json, ContentType: "application/json" };
      try {
        if (json.length <= multipartThreshold) {
          await client.send(new PutObjectCommand(params));
        } else {
          // Each part is a view of the value's bytes (no copy), sent one at a time.
          await new Upload({ client, params, partSize, queueSize: 1, leavePartsOnError: false }).done();
        }
      } catch (cause) {
        throw objectWriteError("S3", bucket, cause);
      }
      return `s3://${bucket}/${key}`;
    },

    async read(handle, maxBytes) {
      const { key } = locate(handle);
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!object.Body) throw new Error("the object has no body");
        if (maxBytes !== undefined && (object.ContentLength ?? 0) > maxBytes) {
          // The rest of the body is not wanted: drop the connection instead of reading it.
          (object.Body as { destroy?: () => void }).destroy?.();
          throw largerThanRecorded(`"${handle}"`, maxBytes);
        }
        return await object.Body.transformToString("utf8");
      } catch (cause) {
        if (cause instanceof HandledError) throw cause;
        throw objectReadError(handle, cause, isMissing(cause));
      }
    },

    async readStart(handle, maxBytes) {
      const { key } = locate(handle);
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${maxBytes - 1}` }));
        if (!object.Body) throw new Error("the object has no body");
        // A store that ignores Range sends everything; keep only what was asked for.
        return Buffer.from(await object.Body.transformToByteArray()).subarray(0, maxBytes);
      } catch (cause) {
        // An empty object has no byte 0 to start a range at.
        if ((cause as { name?: string }).name === "InvalidRange") return Buffer.alloc(0);
        throw objectReadError(handle, cause, isMissing(cause));
      }
    },

    async verifyHandle(handle) {
      const { key } = locate(handle);
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { sizeBytes: head.ContentLength ?? 0 };
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
