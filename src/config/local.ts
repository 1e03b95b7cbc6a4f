import { resolve } from "node:path";
import { z } from "zod";
import type { LocalSettings } from "../results/handlers/local.js";
import { type Env, list, parseEnv } from "./env.js";

const localEnv = z.object({
  HANDLED_LOCAL_DIRS: list,
  HANDLED_LOCAL_FILE_WORKERS: z.coerce.number().int().min(0).max(64).default(1),
});

/**
 * LOCAL handlers: the directories of HANDLED_LOCAL_DIRS (relative ones from the working
 * directory), and the default handler's, if it is LOCAL.
 */
export function readLocal(env: Env, defaultDir: string | undefined, problems: string[]): LocalSettings | undefined {
  const e = parseEnv(localEnv, env, problems);
  if (!e) return undefined;
  return {
    fileWorkers: e.HANDLED_LOCAL_FILE_WORKERS,
    allowedDirs: [
      ...new Set([...e.HANDLED_LOCAL_DIRS.map((dir) => resolve(dir)), ...(defaultDir ? [defaultDir] : [])]),
    ],
  };
}
