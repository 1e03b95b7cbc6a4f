import { resolve } from "node:path";
import {
  definitionOf,
  HANDLER_TYPES,
  type HandlerSpec,
  type HandlerType,
  handlerSpecSchema,
} from "../results/handler-spec.js";
import type { Env } from "./env.js";

const isHandlerType = (type: string): type is HandlerType => (HANDLER_TYPES as readonly string[]).includes(type);

/**
 * The handler used when neither a task nor its flow names one: HANDLED_DEFAULT_HANDLER names its
 * type (LOCAL by default), and HANDLED_DEFAULT_HANDLER_<FIELD> each field of that type's config
 * (e.g. _BUCKET and _PREFIX). A `dir` is a path taken from the working directory, by default
 * `results` under the data folder.
 */
export function readDefaultHandler(env: Env, dataDir: string, problems: string[]): HandlerSpec | undefined {
  const type = env.HANDLED_DEFAULT_HANDLER || "LOCAL";
  if (!isHandlerType(type)) {
    problems.push(`HANDLED_DEFAULT_HANDLER: must be one of ${HANDLER_TYPES.join(", ")}`);
    return undefined;
  }
  const input: Record<string, string | undefined> = { type };
  for (const field of Object.keys(definitionOf(type).schema.shape)) {
    if (field === "type") continue;
    const value = env[`HANDLED_DEFAULT_HANDLER_${field.toUpperCase()}`] || undefined;
    input[field] = field === "dir" ? resolve(value ?? resolve(dataDir, "results")) : value;
  }
  const spec = handlerSpecSchema.safeParse(input);
  if (spec.success) return spec.data;
  problems.push(
    ...spec.error.issues.map(
      (i) => `HANDLED_DEFAULT_HANDLER_${i.path.join(".").toUpperCase()}: ${i.message} (for ${type})`,
    ),
  );
  return undefined;
}
