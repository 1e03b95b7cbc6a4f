import { resolve } from "node:path";
import { z } from "zod";
import { handlerSpecSchema } from "../results/handler-spec.js";
const MiB = 1024 * 1024;
const list = z
    .string()
    .optional()
    .transform((value) => (value ?? "").split(",").map((item) => item.trim()).filter(Boolean));
const bytes = (fallback) => z.coerce.number().int().positive().default(fallback);
// HANDLED_DATA_DIR, the HANDLED_DEFAULT_HANDLER_* details and AWS_CREDENTIALS are read apart
// (see loadConfig), so their problems are listed even when other variables are invalid.
const envSchema = z.object({
    DATABASE_URL: z.string().url().optional(),
    HOST: z.string().default("127.0.0.1"),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    HANDLED_DEFAULT_HANDLER: z.enum(["JSON", "LOCAL", "S3", "GCS"]).default("LOCAL"),
    HANDLED_LOCAL_DIRS: list,
    HANDLED_MAX_VALUE_BYTES: bytes(64 * MiB),
    HANDLED_JSON_MAX_BYTES: bytes(64 * 1024),
    HANDLED_MAX_REQUEST_BYTES: bytes(0),
    HANDLED_S3_BUCKETS: list,
    HANDLED_S3_ENDPOINT: z.string().url().optional(),
    HANDLED_S3_REGION: z.string().optional(),
    AWS_REGION: z.string().optional(),
    HANDLED_S3_FORCE_PATH_STYLE: z.enum(["true", "false"]).default("false"),
    HANDLED_S3_PART_SIZE_BYTES: z.coerce.number().int().min(5 * MiB).default(8 * MiB),
    HANDLED_GCS_BUCKETS: list,
    HANDLED_GCS_PROJECT_ID: z.string().optional(),
    GOOGLE_CLOUD_PROJECT: z.string().optional(),
});
const awsCredentialsSchema = z.object({
    ACCESS_KEY: z.string().min(1),
    SECRET_ACCESS_KEY: z.string().min(1),
    SESSION_TOKEN: z.string().min(1).optional(),
});
/** Parses the AWS_CREDENTIALS secret; its content never appears in a problem reported. */
function parseAwsCredentials(secret, problems) {
    if (secret === undefined || secret === "")
        return undefined;
    let json;
    try {
        json = JSON.parse(secret);
    }
    catch {
        problems.push('AWS_CREDENTIALS: is not JSON (expected {"ACCESS_KEY": ..., "SECRET_ACCESS_KEY": ...})');
        return undefined;
    }
    const parsed = awsCredentialsSchema.safeParse(json);
    if (!parsed.success) {
        problems.push("AWS_CREDENTIALS: needs string fields ACCESS_KEY and SECRET_ACCESS_KEY");
        return undefined;
    }
    const { ACCESS_KEY, SECRET_ACCESS_KEY, SESSION_TOKEN } = parsed.data;
    return { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_ACCESS_KEY, ...(SESSION_TOKEN ? { sessionToken: SESSION_TOKEN } : {}) };
}
/** Thrown with every problem of the environment at once. */
export class ConfigError extends Error {
    name = "ConfigError";
}
/**
 * Parses the environment into a Config. Throws a ConfigError listing every invalid variable.
 * Relative paths are taken from the working directory.
 */
export function loadConfig(env = process.env) {
    const problems = [];
    const parsed = envSchema.safeParse(env);
    if (!parsed.success)
        problems.push(...parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
    const credentials = parseAwsCredentials(env.AWS_CREDENTIALS, problems);
    // The default handler is checked from the raw variables, so its problems are listed too
    // when other variables are invalid.
    const dataDir = resolve(env.HANDLED_DATA_DIR || "data");
    const defaultDir = resolve(env.HANDLED_DEFAULT_HANDLER_DIR || resolve(dataDir, "results"));
    const defaultType = env.HANDLED_DEFAULT_HANDLER || "LOCAL";
    const spec = handlerSpecSchema.safeParse(defaultType === "LOCAL"
        ? { type: "LOCAL", dir: defaultDir }
        : defaultType === "JSON"
            ? { type: "JSON" }
            : { type: defaultType, bucket: env.HANDLED_DEFAULT_HANDLER_BUCKET, prefix: env.HANDLED_DEFAULT_HANDLER_PREFIX });
    if (!spec.success && ["LOCAL", "JSON", "S3", "GCS"].includes(defaultType)) {
        problems.push(...spec.error.issues.map((i) => `HANDLED_DEFAULT_HANDLER_${String(i.path.join(".")).toUpperCase()}: ${i.message} (for ${defaultType})`));
    }
    if (!parsed.success || !spec.success || problems.length > 0) {
        throw new ConfigError(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    }
    const e = parsed.data;
    const localDirs = [...new Set([...e.HANDLED_LOCAL_DIRS.map((dir) => resolve(dir)), ...(spec.data.type === "LOCAL" ? [defaultDir] : [])])];
    const maxValueBytes = e.HANDLED_MAX_VALUE_BYTES;
    const defaultBucket = (type) => (spec.data.type === type ? [spec.data.bucket] : []);
    return {
        databaseUrl: e.DATABASE_URL,
        dataDir,
        host: e.HOST,
        port: e.PORT,
        defaultHandler: spec.data,
        localDirs,
        maxValueBytes,
        jsonMaxBytes: Math.min(e.HANDLED_JSON_MAX_BYTES, maxValueBytes),
        // Room for the value, escaped inside a JSON request body, plus the rest of the request.
        maxRequestBytes: e.HANDLED_MAX_REQUEST_BYTES || 2 * maxValueBytes + MiB,
        s3: {
            buckets: [...new Set([...e.HANDLED_S3_BUCKETS, ...defaultBucket("S3")])],
            endpoint: e.HANDLED_S3_ENDPOINT,
            region: e.HANDLED_S3_REGION ?? e.AWS_REGION ?? "us-east-1",
            forcePathStyle: e.HANDLED_S3_FORCE_PATH_STYLE === "true",
            credentials,
            partSize: e.HANDLED_S3_PART_SIZE_BYTES,
        },
        gcs: {
            buckets: [...new Set([...e.HANDLED_GCS_BUCKETS, ...defaultBucket("GCS")])],
            projectId: e.HANDLED_GCS_PROJECT_ID ?? e.GOOGLE_CLOUD_PROJECT,
        },
    };
}
//# sourceMappingURL=config.js.map