import { resolve } from "node:path";
import { z } from "zod";
import type { LocalSettings } from "../results/handlers/local.js";
import { type Env, list, parseEnv } from "./env.js";

const localEnv = z.object({ HANDLED_LOCAL_DIRS: list });

/**
 * LOCAL handlers: the directories of HANDLED_LOCAL_DIRS (relative ones from the working
 * directory), and the default handler's, if it is LOCAL.
 */
export function readLocal(env: Env, defaultDir: string | undefined, problems: string[]): LocalSettings | undefined {
  const e = parseEnv(localEnv, env, problems);
  if (!e) return undefined;
  return {
    allowedDirs: [
      ...new Set([...e.HANDLED_LOCAL_DIRS.map((dir) => resolve(dir)), ...(defaultDir ? [defaultDir] : [])]),
    ],
  };
}
