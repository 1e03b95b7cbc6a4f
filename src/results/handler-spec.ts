import { isAbsolute } from "node:path";
import { z } from "zod";

/** The handler types, named as in the database and the GraphQL schema. */
export const HANDLER_TYPES = ["JSON", "LOCAL", "S3", "GCS"] as const;
export type HandlerType = (typeof HANDLER_TYPES)[number];

/**
 * What rebuilds a handler: its type and non-secret config. Stored next to every handle, so a
 * result stays readable with the handler that wrote it whatever the defaults are later.
 */
export type HandlerSpec =
  | { type: "JSON" }
  | { type: "LOCAL"; dir: string }
  | { type: "S3"; bucket: string; prefix?: string }
  | { type: "GCS"; bucket: string; prefix?: string };

// Bucket names as both clouds allow them (3-63 lowercase letters, digits, dots, dashes).
const bucket = z
  .string({ error: "is required for S3 and GCS" })
  .regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/, "must be a valid bucket name (3-63 characters: a-z 0-9 . - _)");
const prefix = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9!_.*'()/-]*$/, "may hold only letters, digits and !_.*'()/-")
  .refine((p) => !p.split("/").some((part) => part === ".." || part === "."), "may not contain . or .. segments")
  .transform((p) => p.replace(/^\/+|\/+$/g, ""))
  .optional();

/** Parses a spec from untrusted input (the API, the environment or a database row). */
export const handlerSpecSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("JSON") }).strict(),
  z
    .object({
      type: z.literal("LOCAL"),
      dir: z
        .string({ error: "is required for LOCAL" })
        // Room for a result's file name below it within PATH_MAX (4096 bytes on Linux).
        .max(4000, "may be at most 4000 characters")
        .refine((dir) => !dir.includes("\u0000"), "may not contain the NUL character")
        .refine(isAbsolute, "must be an absolute path"),
    })
    .strict(),
  z.object({ type: z.literal("S3"), bucket, prefix }).strict(),
  z.object({ type: z.literal("GCS"), bucket, prefix }).strict(),
]);

/** The non-secret config kept in the database's `handler_config` column. */
export function handlerConfigOf(spec: HandlerSpec): Record<string, string> {
  const { type: _type, ...config } = spec;
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined && v !== ""));
}

/** Rebuilds a spec from a database row's `handler_type` and `handler_config`. */
export function specFromRow(type: HandlerType, config: unknown): HandlerSpec {
  return handlerSpecSchema.parse({ ...(config as object), type });
}
