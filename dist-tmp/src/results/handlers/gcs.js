import { ErrorCode, HandledError } from "../../errors.js";
import { locateObject, newObjectKey, objectReadError } from "./bucket-uri.js";
function isMissing(error) {
    return error.code === 404;
}
/**
 * The GCS handler: writes each value to a new object `prefix/<uuid>.json` in its bucket and
 * returns `gs://bucket/key`.
 */
export function createGcsHandler(options) {
    const { bucket, prefix, storage } = options;
    const locate = (handle) => locateObject(handle, "gs", bucket, prefix);
    const file = (key) => storage.bucket(bucket).file(key);
    return {
        spec: prefix ? { type: "GCS", bucket, prefix } : { type: "GCS", bucket },
        async write(json) {
            const key = newObjectKey(prefix);
            try {
                // One request: the value is already in memory, and a resumable session would cost
                // an extra round trip for every small result.
                await file(key).save(json, { resumable: false, contentType: "application/json" });
            }
            catch (cause) {
                throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot write a result to the GCS bucket "${bucket}".`, { cause });
            }
            return `gs://${bucket}/${key}`;
        },
        async read(handle) {
            const { key } = locate(handle);
            try {
                const [contents] = await file(key).download();
                return contents.toString("utf8");
            }
            catch (cause) {
                throw objectReadError(handle, cause, isMissing(cause));
            }
        },
        async verifyHandle(handle) {
            const { key } = locate(handle);
            let exists;
            try {
                [exists] = await file(key).exists();
            }
            catch (cause) {
                throw objectReadError(handle, cause, false);
            }
            if (!exists)
                throw objectReadError(handle, undefined, true);
        },
        async delete(handle) {
            const { key } = locate(handle);
            try {
                await file(key).delete({ ignoreNotFound: true });
            }
            catch (cause) {
                throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot delete "${handle}".`, { cause });
            }
        },
    };
}
//# sourceMappingURL=gcs.js.map