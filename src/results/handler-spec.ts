import { z } from "zod";
import { ErrorCode, HandledError } from "../errors.js";
import type { HandlerDefinition, SpecOf } from "./handler-definition.js";
import { HANDLER_DEFINITIONS } from "./handlers/index.js";

type Definitions = typeof HANDLER_DEFINITIONS;
type AnyDefinition = Definitions[number];

/** The handler types, named as in the database and the GraphQL schema. */
export type HandlerType = AnyDefinition["type"];
export const HANDLER_TYPES: readonly HandlerType[] = HANDLER_DEFINITIONS.map((definition) => definition.type);

/** The definition of one handler type. */
export type DefinitionOf<T extends HandlerType> = Extract<AnyDefinition, { type: T }>;

type SettingsOfDefinition<D> = D extends HandlerDefinition<string, z.ZodRawShape, infer S, infer _O> ? S : never;
type SpecOfDefinition<D> =
  D extends HandlerDefinition<infer T, infer Shape, infer _S, infer _O> ? SpecOf<T, Shape> : never;

/** What the configuration gives each handler type; a type given nothing cannot be used. */
export type HandlerSettings = { [T in HandlerType]?: SettingsOfDefinition<DefinitionOf<T>> };

/**
 * What rebuilds a handler: its type and non-secret config. Stored next to every handle, so a
 * result stays readable with the handler that wrote it whatever the defaults are later.
 */
export type HandlerSpec = SpecOfDefinition<AnyDefinition>;

const definitions = new Map<HandlerType, AnyDefinition>(
  HANDLER_DEFINITIONS.map((definition) => [definition.type, definition]),
);

/** The definition of a spec's handler type. */
export function definitionOf<T extends HandlerType>(type: T): DefinitionOf<T> {
  return definitions.get(type) as DefinitionOf<T>;
}

// What discriminatedUnion wants: at least one object schema with a literal `type`.
type Schemas = [
  z.ZodObject<{ type: z.ZodLiteral<HandlerType> }>,
  ...z.ZodObject<{ type: z.ZodLiteral<HandlerType> }>[],
];

/** Parses a spec from untrusted input (the API, the environment or a database row). */
export const handlerSpecSchema: z.ZodType<HandlerSpec, unknown> = z.discriminatedUnion(
  "type",
  HANDLER_DEFINITIONS.map((definition) => definition.schema) as unknown as Schemas,
) as unknown as z.ZodType<HandlerSpec, unknown>;

/** The non-secret config (and write policy) kept in the database's `handler_config` column. */
export function handlerConfigOf(spec: HandlerSpec): Record<string, unknown> {
  const { type: _type, ...config } = spec;
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined && v !== ""));
}

/** Rebuilds a spec from a database row's `handler_type` and `handler_config`. */
export function specFromRow(type: HandlerType, config: unknown): HandlerSpec {
  return handlerSpecSchema.parse({ ...(config as object), type });
}

/** Parses a handler from the API. Throws BAD_USER_INPUT naming each problem. */
export function parseHandlerSpec(input: unknown): HandlerSpec {
  // GraphQL gives absent optional fields as missing or null; the spec wants them missing.
  const cleaned = Object.fromEntries(Object.entries(input as object).filter(([, v]) => v !== null && v !== undefined));
  const parsed = handlerSpecSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) =>
      issue.code === "unrecognized_keys"
        ? `${issue.keys.join(", ")} ${issue.keys.length > 1 ? "do" : "does"} not apply to ${String((cleaned as { type?: unknown }).type)} handlers`
        : `${issue.path.join(".") || "handler"} ${issue.message}`,
    );
    throw new HandledError(ErrorCode.BAD_USER_INPUT, `Invalid result handler: ${problems.join("; ")}.`);
  }
  return parsed.data;
}
