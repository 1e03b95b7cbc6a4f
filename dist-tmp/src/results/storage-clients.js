import { S3Client } from "@aws-sdk/client-s3";
import { Storage } from "@google-cloud/storage";
/**
 * The S3 client of the server. Connections give up after 5 s so an unreachable store fails a
 * request quickly (RESULT_WRITE_FAILED) instead of holding it.
 */
export function createS3Client(config) {
    return new S3Client({
        region: config.region,
        endpoint: config.endpoint,
        forcePathStyle: config.forcePathStyle,
        credentials: config.credentials,
        maxAttempts: 3,
        requestHandler: { connectionTimeout: 5_000 },
    });
}
/**
 * The GCS client of the server: credentials from Google application credentials, or the
 * emulator named by STORAGE_EMULATOR_HOST (which the SDK reads itself). Retries are bounded so
 * an unreachable store fails a request within seconds.
 */
export function createGcsStorage(config) {
    return new Storage({
        projectId: config.projectId,
        retryOptions: { autoRetry: true, maxRetries: 2, maxRetryDelay: 2, totalTimeout: 20 },
    });
}
//# sourceMappingURL=storage-clients.js.map