import { z } from "zod";
import type { Bounds } from "./bounds.js";
import { CODECS, codecsProblem } from "./codecs.js";
import type { ResultHandler } from "./result-handler.js";

/**
 * How a handler of any type treats what it writes, beside where it writes it: the codecs its
 * values go through, and the size under which values are kept with the JSON handler instead.
 * Kept with the handler of a flow or task; a result records what was applied to it instead.
 */
const WRITE_POLICY = {
  codecs: z.array(z.enum(CODECS)).optional(),
  inlineBelowBytes: z.number().int().positive().optional(),
};
type WritePolicyShape = typeof WRITE_POLICY;

/** The write policy of a spec (see WRITE_POLICY). */
export type WritePolicy = z.output<z.ZodObject<WritePolicyShape>>;

/** The spec of a handler type: its name as `type`, the config fields of its schema, and its write policy. */
export type SpecOf<T extends string, Shape extends z.ZodRawShape> = z.output<
  z.ZodObject<{ type: z.ZodLiteral<T> } & Shape & WritePolicyShape>
>;

/**
 * Everything the server knows of one handler type, in the module of that type. The list of
 * handler types, the spec schema and the registry are all derived from these (see handlers/index.ts).
 *
 * - `Settings`: what the server's configuration gives this type (directories or buckets it may
 *   reach, endpoints, credentials), as plain data.
 * - `Options`: what its handlers are built with: the settings, connected (a ready SDK client).
 */
export interface HandlerDefinition<
  T extends string = string,
  Shape extends z.ZodRawShape = z.ZodRawShape,
  Settings = unknown,
  Options = unknown,
> {
  /** The type's name, as in the database's and the GraphQL schema's HandlerType enums. */
  readonly type: T;
  /**
   * Parses a spec of this type from untrusted input (the API, the environment or a database row):
   * its literal `type` and its config fields, the non-secret settings kept with every handle.
   */
  readonly schema: z.ZodObject<{ type: z.ZodLiteral<T> } & Shape & WritePolicyShape, z.core.$strict>;
  /**
   * Whether the handle is the value itself (JSON): such a handler has nothing to keep values
   * elsewhere, so `inlineBelowBytes` does not apply to it.
   */
  readonly handleIsValue?: boolean;
  /** What one piece of its stored data is called in messages ("file", "object"). */
  readonly noun: string;
  /**
   * Where a handler of `spec` writes, for messages ('the S3 bucket "results"'); none for a type
   * whose handle is the value itself.
   */
  describe(spec: SpecOf<T, Shape>): string | undefined;
  /** Where a handler of `spec` writes, for log lines (a directory, a bucket URI); none as for `describe`. */
  place(spec: SpecOf<T, Shape>): string | undefined;
  /** Whether an error of this type's storage means that the data asked for is not there. */
  isMissing(cause: unknown): boolean;
  /**
   * Connects the configured settings once per server (builds SDK clients). Undefined when the
   * settings give this server nothing to reach (no buckets), so no SDK is set up for it.
   */
  connect(settings: Settings): Options | undefined;
  /**
   * The spec a project's place names, when it is one of this type's (`/data/a` for LOCAL,
   * `s3://bucket/prefix` for S3); undefined otherwise. Its config is checked by `schema` after.
   */
  fromPlace(place: string): unknown;
  /**
   * Where `spec` writes, as a place to compare with others (see Bounds): a directory's real path,
   * a bucket URI without a trailing slash; undefined for a type that reaches nothing.
   */
  locate(spec: SpecOf<T, Shape>): Promise<string | undefined>;
  /**
   * Checks, without writing, that `spec` is within the server's reach and the caller's `bounds`:
   * throws HANDLE_OUT_OF_BOUNDS for a directory or bucket it may not use, BAD_USER_INPUT for a
   * spec that can never work (a LOCAL directory that is a file).
   */
  checkReach(spec: SpecOf<T, Shape>, options: Options, bounds?: Bounds): Promise<void>;
  /**
   * A handler for `spec`, held within the server's reach and the caller's `bounds`. Throws
   * HANDLE_OUT_OF_BOUNDS for what it can refuse at once (a bucket the server may not use); what
   * can change under it (a directory) it checks on each use. The handler it returns may fail
   * with its storage's own errors: see codeFailures.
   */
  create(spec: SpecOf<T, Shape>, options: Options, bounds?: Bounds): ResultHandler;
}

/**
 * Defines a handler type: `config` is the shape of its config fields, from which its strict spec
 * schema is built (fields of other types are refused by name), with the write policy every type has.
 */
export function defineHandler<const T extends string, Shape extends z.ZodRawShape, Settings, Options>(
  definition: Omit<HandlerDefinition<T, Shape, Settings, Options>, "schema"> & { config: Shape },
): HandlerDefinition<T, Shape, Settings, Options> {
  const { config, ...rest } = definition;
  const shape = { type: z.literal(definition.type), ...config, ...WRITE_POLICY } as {
    type: z.ZodLiteral<T>;
  } & Shape &
    WritePolicyShape;
  const schema = z
    .object(shape)
    .strict()
    .superRefine((spec, context) => {
      const { codecs, inlineBelowBytes } = spec as WritePolicy;
      const problem = codecs && codecsProblem(codecs);
      if (problem) context.addIssue({ code: "custom", path: ["codecs"], message: problem });
      if (inlineBelowBytes !== undefined && definition.handleIsValue) {
        context.addIssue({
          code: "custom",
          path: ["inlineBelowBytes"],
          message: `does not apply to ${definition.type} handlers, which keep every value inline`,
        });
      }
    });
  return { ...rest, schema };
}

/** A spec without its write policy: what a result row keeps of the handler that stored it. */
export function withoutPolicy<S extends WritePolicy>(spec: S): Omit<S, keyof WritePolicy> {
  const { codecs: _codecs, inlineBelowBytes: _inline, ...storage } = spec;
  return storage;
}
