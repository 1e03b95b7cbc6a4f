import type { z } from "zod";
import { ErrorCode, HandledError } from "../errors.js";
import type { HandlerDefinition, SpecOf } from "./handler-definition.js";
import { definitionOf, type HandlerSettings, type HandlerSpec, type HandlerType } from "./handler-spec.js";
import { HANDLER_DEFINITIONS } from "./handlers/index.js";
import { type HandlerMetrics, observeHandler } from "./observed-handler.js";
import type { ResultHandler } from "./result-handler.js";
import { codeFailures } from "./storage-failures.js";

/** What the server may reach, and how; every handler is built within these bounds. */
export interface HandlerRegistryOptions {
  /** What each handler type may reach (directories, buckets) and how; a type given nothing cannot be used. */
  settings: HandlerSettings;
  /** Times and counts every handler call, by handler type; none when absent. */
  metrics?: HandlerMetrics;
}

/**
 * Builds handlers from specs (from the API or a database row) and refuses any spec that points
 * outside the server's reach. Handlers are cheap and built for each use; SDK clients are made once.
 */
export interface HandlerRegistry {
  /**
   * The handler for a spec, its storage failures coded (see codeFailures). Throws
   * HANDLE_OUT_OF_BOUNDS when the spec names something the server may not use.
   */
  handlerFor(spec: HandlerSpec): Promise<ResultHandler>;

  /**
   * Checks a spec is within the server's reach without using it, e.g. when a flow names it.
   * Throws HANDLE_OUT_OF_BOUNDS for a directory or bucket the server may not reach, and
   * BAD_USER_INPUT for a spec that cannot work (a LOCAL directory that is a file).
   */
  checkReach(spec: HandlerSpec): Promise<void>;
}

/**
 * A handler of one type, built from its connected options, with its storage failures coded: what
 * the registry hands out, without the reach given by the configuration (tests use it with
 * clients of their own).
 */
export function createHandler<T extends string, Shape extends z.ZodRawShape, Options>(
  definition: HandlerDefinition<T, Shape, unknown, Options> | HandlerDefinition<T, Shape, never, Options>,
  spec: SpecOf<T, Shape>,
  options: Options,
): ResultHandler {
  return codeFailures(definition.create(spec, options), {
    noun: definition.noun,
    destination: definition.describe(spec),
    isMissing: definition.isMissing,
  });
}

// The definitions are used through the spec's own type, which TypeScript cannot follow through a
// union: each is seen as the general definition once, here.
const general = (type: HandlerType) =>
  definitionOf(type) as unknown as HandlerDefinition<string, never, unknown, unknown>;

export function createHandlerRegistry(options: HandlerRegistryOptions): HandlerRegistry {
  const connected = new Map<HandlerType, unknown>();
  for (const { type } of HANDLER_DEFINITIONS) {
    const settings = options.settings[type];
    const ready = settings === undefined ? undefined : general(type).connect(settings);
    if (ready !== undefined) connected.set(type, ready);
  }

  /** The connected options of a spec's type; HANDLE_OUT_OF_BOUNDS when the server is given none. */
  function optionsOf(spec: HandlerSpec): unknown {
    if (!connected.has(spec.type)) {
      const what = general(spec.type).describe(spec as never) ?? `${spec.type} results`;
      throw new HandledError(ErrorCode.HANDLE_OUT_OF_BOUNDS, `This server may not read and write ${what}.`);
    }
    return connected.get(spec.type);
  }

  return {
    async handlerFor(spec) {
      const definition = general(spec.type);
      const handler = createHandler(definition, spec as never, optionsOf(spec));
      return options.metrics
        ? observeHandler(handler, options.metrics, spec.type, definition.place(spec as never))
        : handler;
    },
    async checkReach(spec) {
      await general(spec.type).checkReach(spec as never, optionsOf(spec));
    },
  };
}
