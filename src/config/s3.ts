import { z } from "zod";
import type { S3Settings } from "../results/handlers/s3.js";
import { type Env, flag, list, MiB, parseEnv } from "./env.js";

const s3Env = z.object({
  HANDLED_S3_BUCKETS: list,
  HANDLED_S3_ENDPOINT: z.string().url().optional(),
  HANDLED_S3_REGION: z.string().optional(),
  AWS_REGION: z.string().optional(),
  HANDLED_S3_FORCE_PATH_STYLE: flag.default("false"),
  HANDLED_S3_PART_SIZE_BYTES: z.coerce
    .number()
    .int()
    .min(5 * MiB)
    .default(8 * MiB),
  HANDLED_S3_MULTIPART_THRESHOLD_BYTES: z.coerce
    .number()
    .int()
    .min(5 * MiB)
    .default(16 * MiB),
});

const awsCredentialsSchema = z.object({
  ACCESS_KEY: z.string().min(1),
  SECRET_ACCESS_KEY: z.string().min(1),
  SESSION_TOKEN: z.string().min(1).optional(),
});

/** Parses the AWS_CREDENTIALS secret; its content never appears in a problem reported. */
function parseAwsCredentials(secret: string | undefined, problems: string[]): S3Settings["credentials"] {
  if (secret === undefined || secret === "") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(secret);
  } catch {
    problems.push('AWS_CREDENTIALS: is not JSON (expected {"ACCESS_KEY": ..., "SECRET_ACCESS_KEY": ...})');
    return undefined;
  }
  const parsed = awsCredentialsSchema.safeParse(json);
  if (!parsed.success) {
    problems.push("AWS_CREDENTIALS: needs string fields ACCESS_KEY and SECRET_ACCESS_KEY");
    return undefined;
  }
  const { ACCESS_KEY, SECRET_ACCESS_KEY, SESSION_TOKEN } = parsed.data;
  return {
    accessKeyId: ACCESS_KEY,
    secretAccessKey: SECRET_ACCESS_KEY,
    ...(SESSION_TOKEN ? { sessionToken: SESSION_TOKEN } : {}),
  };
}

/** What S3 handlers are configured with; the default handler's bucket, if it is S3, is always allowed. */
export function readS3(
  env: Env,
  defaultBucket: string | undefined,
  timeouts: { connectTimeoutMs: number; requestTimeoutMs: number } | undefined,
  problems: string[],
): S3Settings | undefined {
  const e = parseEnv(s3Env, env, problems);
  const credentials = parseAwsCredentials(env.AWS_CREDENTIALS, problems);
  if (!e || !timeouts) return undefined;
  return {
    buckets: [...new Set([...e.HANDLED_S3_BUCKETS, ...(defaultBucket ? [defaultBucket] : [])])],
    endpoint: e.HANDLED_S3_ENDPOINT,
    region: e.HANDLED_S3_REGION ?? e.AWS_REGION ?? "us-east-1",
    forcePathStyle: e.HANDLED_S3_FORCE_PATH_STYLE === "true",
    credentials,
    partSize: e.HANDLED_S3_PART_SIZE_BYTES,
    multipartThreshold: e.HANDLED_S3_MULTIPART_THRESHOLD_BYTES,
    ...timeouts,
  };
}
