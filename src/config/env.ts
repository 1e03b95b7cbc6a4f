import { z } from "zod";

/** The environment, as the process gives it. */
export type Env = Readonly<Record<string, string | undefined>>;

export const MiB = 1024 * 1024;

/** A comma-separated list; blanks dropped. */
export const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean),
  );
/** A size in bytes. */
export const bytes = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** A count from 1 to `max`. */
export const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
/** A duration in milliseconds, up to an hour. */
export const ms = (fallback: number) => z.coerce.number().int().min(1).max(3_600_000).default(fallback);
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as `500ms`, `90s`, `30m`, `1h` or `7d` (a bare number: seconds), in milliseconds. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, context) => {
      const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
      if (!match) {
        context.addIssue({ code: "custom", message: "is not a duration such as 90s, 30m, 1h or 7d" });
        return z.NEVER;
      }
      return Math.round(Number(match[1]) * UNITS[match[2] ?? "s"]!);
    });

/** "true" or "false". */
export const flag = z.enum(["true", "false"]);

/**
 * Parses the variables `schema` names; each problem is added to `problems` as
 * "VARIABLE: what is wrong" (never the value). Undefined when there were problems.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env, problems: string[]): z.output<S> | undefined {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  problems.push(...parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  return undefined;
}
