import { ErrorCode, HandledError } from "../errors.js";
import type { HandlerSpec, HandlerType } from "./handler-spec.js";
import { createJsonHandler } from "./handlers/json.js";
import { createLocalHandler, resolveAllowedDir } from "./handlers/local.js";
import type { ResultHandler } from "./result-handler.js";

/** What the server may reach, and how; every handler is built within these bounds. */
export interface HandlerRegistryOptions {
  /** Largest JSON text the JSON handler stores, in bytes. */
  jsonMaxBytes: number;
  /** Absolute directories LOCAL handlers may write to and read from. */
  localDirs: readonly string[];
}

/**
 * Builds handlers from specs (from the API or a database row) and refuses any spec that points
 * outside the server's reach. Stateless apart from a cache of built handlers.
 */
export interface HandlerRegistry {
  /**
   * The handler for a spec. Throws HANDLE_OUT_OF_BOUNDS when the spec names a directory or
   * bucket the server may not reach.
   */
  handlerFor(spec: HandlerSpec): Promise<ResultHandler>;
}

type Factory<T extends HandlerType> = (spec: Extract<HandlerSpec, { type: T }>) => Promise<ResultHandler>;

export function createHandlerRegistry(options: HandlerRegistryOptions): HandlerRegistry {
  const json = createJsonHandler({ maxBytes: options.jsonMaxBytes });

  const factories: { [T in HandlerType]: Factory<T> } = {
    JSON: async () => json,
    LOCAL: async (spec) => {
      await resolveAllowedDir(spec.dir, options.localDirs);
      return createLocalHandler({ dir: spec.dir, allowedDirs: options.localDirs });
    },
    S3: async (spec) => {
      throw bucketNotAllowed("S3", spec.bucket);
    },
    GCS: async (spec) => {
      throw bucketNotAllowed("GCS", spec.bucket);
    },
  };

  return {
    handlerFor(spec) {
      const factory = factories[spec.type] as Factory<typeof spec.type>;
      return factory(spec);
    },
  };
}

export function bucketNotAllowed(type: "S3" | "GCS", bucket: string): HandledError {
  return new HandledError(
    ErrorCode.HANDLE_OUT_OF_BOUNDS,
    `The ${type} bucket "${bucket}" is not one this server may read and write.`,
  );
}
