import type { z } from "zod";
import { ErrorCode, HandledError } from "../errors.js";
import type { Bounds } from "./bounds.js";
import type { HandlerDefinition, SpecOf } from "./handler-definition.js";
import {
  definitionOf,
  type HandlerSettings,
  type HandlerSpec,
  type HandlerType,
  parseHandlerSpec,
} from "./handler-spec.js";
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

/** Where one caller's handlers may go, by handler type (see Bounds); a type absent: wherever the server allows. */
export type Reach = { readonly [T in HandlerType]?: Bounds };

/** No bounds beyond the server's. */
export const ANYWHERE: Reach = Object.freeze({});

/** A place a project may be given, parsed: its handler type and where it is (see Bounds). */
export interface Place {
  type: HandlerType;
  spec: HandlerSpec;
  /** A directory's real path; a bucket URI without a trailing slash. */
  location: string;
}

/**
 * Builds handlers from specs (from the API or a database row) and refuses any spec that points
 * outside the server's reach. SDK clients are made once; a handler is built once per spec and
 * reach (see handlerFor).
 */
export interface HandlerRegistry {
  /**
   * The handler for a spec, its storage failures coded (see codeFailures). Throws
   * HANDLE_OUT_OF_BOUNDS when the spec names something the server may not use. The handler given
   * for a spec and reach is kept and given again (the values of one response share it): a handler
   * holds only its spec and bounds, and checks every handle against them on each call.
   */
  handlerFor(spec: HandlerSpec, reach?: Reach): Promise<ResultHandler>;

  /**
   * Checks a spec is within the server's reach, and the caller's, without using it, e.g. when a
   * flow names it. Throws HANDLE_OUT_OF_BOUNDS for a directory or bucket the server or the caller
   * may not reach, and BAD_USER_INPUT for a spec that cannot work (a LOCAL directory that is a file).
   */
  checkReach(spec: HandlerSpec, reach?: Reach): Promise<void>;

  /**
   * Parses a place a project may be given: an absolute directory, `s3://bucket[/prefix]` or
   * `gs://bucket[/prefix]`. Throws BAD_USER_INPUT for anything else. Does not check the server
   * may reach it (see checkReach).
   */
  locatePlace(place: string): Promise<Place>;
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
  bounds?: Bounds,
): ResultHandler {
  return codeFailures(definition.create(spec, options, bounds), {
    noun: definition.noun,
    destination: definition.describe(spec),
    isMissing: definition.isMissing,
  });
}

// The definitions are used through the spec's own type, which TypeScript cannot follow through a
// union: each is seen as the general definition once, here.
const general = (type: HandlerType) =>
  definitionOf(type) as unknown as HandlerDefinition<string, never, unknown, unknown>;

/**
 * How many handlers are kept for one reach: the specs a server's results name are few (a
 * directory or bucket per flow or project); past this many, the kept ones are let go.
 */
const KEPT_HANDLERS = 64;

/** The reach of a call given none: whatever the server allows. */
const SERVER_REACH: Reach = Object.freeze({});

export function createHandlerRegistry(options: HandlerRegistryOptions): HandlerRegistry {
  // By reach: a project's reach is one object while the places it was worked out from are read
  // (see ReachService), so its handlers go with it.
  const kept = new WeakMap<Reach, Map<string, ResultHandler>>();
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
    async handlerFor(spec, reach = SERVER_REACH) {
      let ofReach = kept.get(reach);
      const key = JSON.stringify(spec);
      const known = ofReach?.get(key);
      if (known) return known;
      const definition = general(spec.type);
      const created = createHandler(definition, spec as never, optionsOf(spec), reach[spec.type]);
      const handler = options.metrics
        ? observeHandler(created, options.metrics, spec.type, definition.place(spec as never))
        : created;
      if (!ofReach || ofReach.size >= KEPT_HANDLERS) {
        ofReach = new Map();
        kept.set(reach, ofReach);
      }
      ofReach.set(key, handler);
      return handler;
    },
    async checkReach(spec, reach) {
      await general(spec.type).checkReach(spec as never, optionsOf(spec), reach?.[spec.type]);
    },
    async locatePlace(place) {
      for (const definition of HANDLER_DEFINITIONS) {
        const named = definition.fromPlace(place);
        if (named === undefined) continue;
        const spec = parseHandlerSpec(named);
        const location = await general(spec.type).locate(spec as never);
        if (location !== undefined) return { type: spec.type, spec, location };
      }
      throw new HandledError(
        ErrorCode.BAD_USER_INPUT,
        `"${place}" is not a place: give an absolute directory, s3://bucket[/prefix] or gs://bucket[/prefix].`,
      );
    },
  };
}
