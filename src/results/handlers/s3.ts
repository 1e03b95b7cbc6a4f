import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Bounds } from "../bounds.js";
import { defineHandler } from "../handler-definition.js";
import { type Handle, largerThanRecorded, type ResultHandler, storedSha256 } from "../result-handler.js";
import { bucketConfig, bucketPlace, bucketReach, checkBucket, locateObject, newObjectKey } from "./bucket-uri.js";

/** How the server reaches S3 (or an S3-compatible store), and which buckets it may use. */
export interface S3Settings {
  /** Buckets S3 handlers may use. */
  buckets: readonly string[];
  /** Endpoint of an S3-compatible store (MinIO, ...); AWS when absent. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** When absent, the SDK's default provider chain. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** Part size of multipart uploads, in bytes (at least 5 MiB). */
  partSize: number;
  /** Values up to this size go up in one PutObject, larger ones in parts. */
  multipartThreshold: number;
  /** Opening a connection, in milliseconds. */
  connectTimeoutMs: number;
  /** A socket silent this long fails the attempt, in milliseconds. */
  requestTimeoutMs: number;
}

/** What S3 handlers are built with: the buckets, and a ready client to reach them with. */
export interface S3Options {
  buckets: readonly string[];
  client: S3Client;
  /** The client URLs are presigned with (see createS3Client); `client` when absent. */
  presigner?: S3Client;
  partSize?: number;
  multipartThreshold?: number;
}

/** Options of one S3 handler. */
interface S3HandlerOptions extends Omit<S3Options, "buckets"> {
  bucket: string;
  /** Keys are written under `prefix/`; handles outside it are refused. */
  prefix?: string | undefined;
  /** The caller's places; anywhere in the bucket when absent. */
  bounds?: Bounds | undefined;
}

const MiB = 1024 * 1024;
/** Part size of streamed uploads: S3's smallest, so a stream holds as little as S3 allows. */
const STREAM_PART_BYTES = 5 * MiB;

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

/**
 * The S3 client of the server. A connection not made within `connectTimeoutMs`, or a socket
 * silent for `requestTimeoutMs` (a store that stopped answering, before or while it sends a body),
 * fails the attempt; three attempts at most, so a dead store fails a request with
 * STORE_TIMEOUT instead of holding it.
 */
function createS3Client(settings: S3Settings, purpose: "requests" | "presigning" = "requests"): S3Client {
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.credentials,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: settings.connectTimeoutMs, socketTimeout: settings.requestTimeoutMs },
    // A presigned PUT has no body when it is signed: the SDK's default checksum would be that of
    // no bytes, and the store would refuse the client's upload.
    ...(purpose === "presigning" ? { requestChecksumCalculation: "WHEN_REQUIRED" as const } : {}),
  });
}

/**
 * The S3 handler: writes each value to a new object `prefix/<uuid>.json` in its bucket and
 * returns `s3://bucket/key`. Values up to the multipart threshold go up in one PutObject (one
 * request, as fast as the SDK allows); larger ones as a multipart upload, one part at a time.
 */
function createS3Handler(options: S3HandlerOptions): ResultHandler {
  const { bucket, prefix, client, bounds } = options;
  const presigner = options.presigner ?? client;
  const partSize = options.partSize ?? 8 * MiB;
  const multipartThreshold = Math.max(options.multipartThreshold ?? 16 * MiB, partSize);
  const locate = (handle: Handle) => locateObject(handle, "s3", bucket, prefix, bounds);

  return {
    async newHandle() {
      return `s3://${bucket}/${newObjectKey(prefix)}`;
    },

    async write(json, at) {
      const key = at === undefined ? newObjectKey(prefix) : locate(at).key;
      const params = { Bucket: bucket, Key: key, Body: json, ContentType: "application/json" };
      if (json.length <= multipartThreshold) {
        await client.send(new PutObjectCommand(params));
      } else {
        // Each part is a view of the value's bytes (no copy), sent one at a time.
        await new Upload({ client, params, partSize, queueSize: 1, leavePartsOnError: false }).done();
      }
      return `s3://${bucket}/${key}`;
    },

    async writeStream(source, at, contentType) {
      const { key } = locate(at);
      // In S3's smallest parts, two in flight: one goes to the store while the next arrives. What
      // a stream holds is a few parts' worth, whatever its size. A body that fits one part goes up
      // in one PutObject.
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: source, ContentType: contentType },
        partSize: STREAM_PART_BYTES,
        queueSize: 2,
        leavePartsOnError: false,
      });
      await upload.done().catch((error: unknown) => {
        source.destroy();
        throw error;
      });
    },

    async readStream(handle, range) {
      const { key } = locate(handle);
      const object = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      if (!object.Body) throw new Error("the object has no body");
      const total = object.ContentRange ? Number(object.ContentRange.split("/")[1]) : object.ContentLength;
      return { stream: object.Body as Readable, size: total ?? 0 };
    },

    async presignUpload(at, { expiresInSeconds, contentType, sha256 }) {
      const { key } = locate(at);
      // The SHA-256 goes with the object as metadata (S3 does not check a checksum sent to a
      // presigned URL); the server records it, and checks the bytes against it on every read.
      const metadata = sha256 ? { sha256 } : undefined;
      const command = new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: contentType, Metadata: metadata });
      const headers: Record<string, string> = {
        "content-type": contentType,
        ...(sha256 ? { "x-amz-meta-sha256": sha256 } : {}),
      };
      const url = await getSignedUrl(presigner, command, {
        expiresIn: expiresInSeconds,
        signableHeaders: new Set(Object.keys(headers)),
        unhoistableHeaders: new Set(Object.keys(headers)),
      });
      return { url, method: "PUT", headers };
    },

    async presignDownload(handle, expiresInSeconds) {
      const { key } = locate(handle);
      return getSignedUrl(presigner, new GetObjectCommand({ Bucket: bucket, Key: key }), {
        expiresIn: expiresInSeconds,
      });
    },

    async read(handle, maxBytes) {
      const { key } = locate(handle);
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!object.Body) throw new Error("the object has no body");
      if (maxBytes !== undefined && (object.ContentLength ?? 0) > maxBytes) {
        // The rest of the body is not wanted: drop the connection instead of reading it.
        (object.Body as { destroy?: () => void }).destroy?.();
        throw largerThanRecorded(`"${handle}"`, maxBytes);
      }
      const bytes = await object.Body.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },

    async readStart(handle, maxBytes) {
      const { key } = locate(handle);
      try {
        const object = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${maxBytes - 1}` }),
        );
        if (!object.Body) throw new Error("the object has no body");
        // A store that ignores Range sends everything; keep only what was asked for.
        return Buffer.from(await object.Body.transformToByteArray()).subarray(0, maxBytes);
      } catch (cause) {
        // An empty object has no byte 0 to start a range at.
        if ((cause as { name?: string }).name === "InvalidRange") return Buffer.alloc(0);
        throw cause;
      }
    },

    async verifyHandle(handle) {
      const { key } = locate(handle);
      // With its checksum, when it was uploaded with one (a HEAD answers it at no extra cost).
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
      const composite = head.ChecksumType === "COMPOSITE";
      const sha256 = storedSha256(composite ? undefined : head.ChecksumSHA256, head.Metadata);
      return { sizeBytes: head.ContentLength ?? 0, ...(sha256 ? { sha256 } : {}) };
    },

    async delete(handle) {
      const { key } = locate(handle);
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
  };
}

/** The S3 handler type: objects in the buckets the server may use. */
export const s3Handler = defineHandler({
  type: "S3",
  config: bucketConfig,
  noun: "object",
  describe: ({ bucket }) => `the S3 bucket "${bucket}"`,
  place: (spec) => bucketPlace("s3", spec),
  isMissing,
  // A client only where buckets are configured: no SDK is set up for a store the server never uses.
  connect: (settings: S3Settings): S3Options | undefined =>
    settings.buckets.length === 0
      ? undefined
      : {
          buckets: settings.buckets,
          client: createS3Client(settings),
          presigner: createS3Client(settings, "presigning"),
          partSize: settings.partSize,
          multipartThreshold: settings.multipartThreshold,
        },
  ...bucketReach<S3Options>("s3", "S3"),
  create: ({ bucket, prefix }, { buckets, client, presigner, partSize, multipartThreshold }, bounds) => {
    checkBucket("s3", { bucket, prefix }, buckets, bounds);
    return createS3Handler({ bucket, prefix, client, presigner, partSize, multipartThreshold, bounds });
  },
});
