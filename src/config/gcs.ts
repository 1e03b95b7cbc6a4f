import { z } from "zod";
import type { GcsSettings } from "../results/handlers/gcs.js";
import { type Env, list, parseEnv } from "./env.js";

const gcsEnv = z.object({
  HANDLED_GCS_BUCKETS: list,
  HANDLED_GCS_PROJECT_ID: z.string().optional(),
  GOOGLE_CLOUD_PROJECT: z.string().optional(),
});

/**
 * What GCS handlers are configured with (credentials come from Google's usual places); the
 * default handler's bucket, if it is GCS, is always allowed.
 */
export function readGcs(
  env: Env,
  defaultBucket: string | undefined,
  requestTimeoutMs: number | undefined,
  problems: string[],
): GcsSettings | undefined {
  const e = parseEnv(gcsEnv, env, problems);
  if (!e || requestTimeoutMs === undefined) return undefined;
  return {
    buckets: [...new Set([...e.HANDLED_GCS_BUCKETS, ...(defaultBucket ? [defaultBucket] : [])])],
    projectId: e.HANDLED_GCS_PROJECT_ID ?? e.GOOGLE_CLOUD_PROJECT,
    requestTimeoutMs,
  };
}
