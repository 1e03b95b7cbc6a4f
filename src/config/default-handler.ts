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

// The write policy every type has, each from a variable of its own.
const POLICY_FIELDS = new Set(["codecs", "inlineBelowBytes"]);

/**
 * The handler used when neither a task nor its flow names one: HANDLED_DEFAULT_HANDLER names its
 * type (LOCAL by default), and HANDLED_DEFAULT_HANDLER_<FIELD> each field of that type's config
 * (e.g. _BUCKET and _PREFIX). A `dir` is a path taken from the working directory, by default
 * `results` under the data folder. Its write policy: HANDLED_DEFAULT_HANDLER_CODECS (a
 * comma-separated list, e.g. `zstd,aes-256-gcm`) and HANDLED_DEFAULT_HANDLER_INLINE_BELOW_BYTES.
 */
export function readDefaultHandler(env: Env, dataDir: string, problems: string[]): HandlerSpec | undefined {
  const type = env.HANDLED_DEFAULT_HANDLER || "LOCAL";
  if (!isHandlerType(type)) {
    problems.push(`HANDLED_DEFAULT_HANDLER: must be one of ${HANDLER_TYPES.join(", ")}`);
    return undefined;
  }
  const input: Record<string, unknown> = { type };
  const codecs = env.HANDLED_DEFAULT_HANDLER_CODECS?.trim();
  if (codecs) input.codecs = codecs.split(",").map((codec) => codec.trim());
  const inline = env.HANDLED_DEFAULT_HANDLER_INLINE_BELOW_BYTES?.trim();
  if (inline) input.inlineBelowBytes = Number(inline);
  for (const field of Object.keys(definitionOf(type).schema.shape)) {
    if (field === "type" || POLICY_FIELDS.has(field)) continue;
    const value = env[`HANDLED_DEFAULT_HANDLER_${field.toUpperCase()}`] || undefined;
    input[field] = field === "dir" ? resolve(value ?? resolve(dataDir, "results")) : value;
  }
  const spec = handlerSpecSchema.safeParse(input);
  if (spec.success) return spec.data;
  problems.push(
    ...spec.error.issues.map(
      (i) =>
        `HANDLED_DEFAULT_HANDLER_${String(i.path[0] ?? "")
          .replace(/[A-Z]/g, (c) => `_${c}`)
          .toUpperCase()}: ${i.message} (for ${type})`,
    ),
  );
  return undefined;
}
