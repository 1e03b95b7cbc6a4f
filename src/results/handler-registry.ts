import { ErrorCode, HandledError } from "../errors.js";
import type { HandlerSpec, HandlerType } from "./handler-spec.js";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Storage } from "@google-cloud/storage";
import { createGcsHandler } from "./handlers/gcs.js";
import { createJsonHandler } from "./handlers/json.js";
import { checkAllowedDir, createLocalHandler } from "./handlers/local.js";
import { createS3Handler } from "./handlers/s3.js";
import { observeHandler, type HandlerMetrics } from "./observed-handler.js";
import type { ResultHandler } from "./result-handler.js";

/** What the server may reach, and how; every handler is built within these bounds. */
export interface HandlerRegistryOptions {
  /** Largest JSON text the JSON handler stores, in bytes. */
  jsonMaxBytes: number;
  /** Absolute directories LOCAL handlers may write to and read from. */
  localDirs: readonly string[];
  /** S3 buckets the server may use, and the client to reach them with. */
  s3?: { buckets: readonly string[]; client: S3Client; partSize?: number; multipartThreshold?: number };
  /** GCS buckets the server may use, and the client to reach them with. */
  gcs?: { buckets: readonly string[]; storage: Storage; requestTimeoutMs?: number };
  /** Times and counts every handler call, by handler type; none when absent. */
  metrics?: HandlerMetrics;
}

/**
 * Builds handlers from specs (from the API or a database row) and refuses any spec that points
 * outside the server's reach. Stateless: handlers are cheap and built for each use.
 */
export interface HandlerRegistry {
  /**
   * The handler for a spec. Throws HANDLE_OUT_OF_BOUNDS when the spec names a bucket the server
   * may not use. A LOCAL handler checks its directory itself each time it is used (the
   * directory can change under it), so it is not checked here twice.
   */
  handlerFor(spec: HandlerSpec): Promise<ResultHandler>;

  /**
   * Checks a spec is within the server's reach without using it, e.g. when a flow names it.
   * Throws HANDLE_OUT_OF_BOUNDS for a directory or bucket the server may not reach, and
   * BAD_USER_INPUT for a LOCAL directory that is a file.
   */
  checkReach(spec: HandlerSpec): Promise<void>;
}

type Factory<T extends HandlerType> = (spec: Extract<HandlerSpec, { type: T }>) => Promise<ResultHandler>;

export function createHandlerRegistry(options: HandlerRegistryOptions): HandlerRegistry {
  const { metrics } = options;
  const observed = (handler: ResultHandler) => (metrics ? observeHandler(handler, metrics) : handler);
  const json = observed(createJsonHandler({ maxBytes: options.jsonMaxBytes }));

  const factories: { [T in HandlerType]: Factory<T> } = {
    JSON: async () => json,
    LOCAL: async (spec) => observed(createLocalHandler({ dir: spec.dir, allowedDirs: options.localDirs })),
    S3: async ({ bucket, prefix }) => {
      const s3 = options.s3;
      if (!s3?.buckets.includes(bucket)) throw bucketNotAllowed("S3", bucket);
      const { client, partSize, multipartThreshold } = s3;
      return observed(createS3Handler({ bucket, prefix, client, partSize, multipartThreshold }));
    },
    GCS: async ({ bucket, prefix }) => {
      const gcs = options.gcs;
      if (!gcs?.buckets.includes(bucket)) throw bucketNotAllowed("GCS", bucket);
      return observed(createGcsHandler({ bucket, prefix, storage: gcs.storage, requestTimeoutMs: gcs.requestTimeoutMs }));
    },
  };

  function handlerFor(spec: HandlerSpec): Promise<ResultHandler> {
    const factory = factories[spec.type] as Factory<typeof spec.type>;
    return factory(spec);
  }

  return {
    handlerFor,
    async checkReach(spec) {
      if (spec.type === "LOCAL") await checkAllowedDir(spec.dir, options.localDirs);
      else await handlerFor(spec);
    },
  };
}

export function bucketNotAllowed(type: "S3" | "GCS", bucket: string): HandledError {
  return new HandledError(
    ErrorCode.HANDLE_OUT_OF_BOUNDS,
    `The ${type} bucket "${bucket}" is not one this server may read and write.`,
  );
}
