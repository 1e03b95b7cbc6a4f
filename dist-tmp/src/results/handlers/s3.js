import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ErrorCode, HandledError } from "../../errors.js";
import { locateObject, newObjectKey, objectReadError } from "./bucket-uri.js";
const MiB = 1024 * 1024;
function isMissing(error) {
    const e = error;
    return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}
/**
 * The S3 handler: writes each value to a new object `prefix/<uuid>.json` in its bucket and
 * returns `s3://bucket/key`. Values larger than one part go up as a multipart upload, one part
 * at a time.
 */
export function createS3Handler(options) {
    const { bucket, prefix, client } = options;
    const partSize = options.partSize ?? 8 * MiB;
    const locate = (handle) => locateObject(handle, "s3", bucket, prefix);
    return {
        spec: prefix ? { type: "S3", bucket, prefix } : { type: "S3", bucket },
        async write(json) {
            const key = newObjectKey(prefix);
            try {
                const upload = new Upload({
                    client,
                    // Small values go up in one PutObject; larger ones in parts, each a view of the value's
                    // bytes (no copy), one at a time.
                    params: { Bucket: bucket, Key: key, Body: json, ContentType: "application/json" },
                    partSize,
                    queueSize: 1,
                    leavePartsOnError: false,
                });
                await upload.done();
            }
            catch (cause) {
                throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot write a result to the S3 bucket "${bucket}".`, { cause });
            }
            return `s3://${bucket}/${key}`;
        },
        async read(handle) {
            const { key } = locate(handle);
            try {
                const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
                if (!object.Body)
                    throw new Error("the object has no body");
                return await object.Body.transformToString("utf8");
            }
            catch (cause) {
                throw objectReadError(handle, cause, isMissing(cause));
            }
        },
        async verifyHandle(handle) {
            const { key } = locate(handle);
            try {
                await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
            }
            catch (cause) {
                throw objectReadError(handle, cause, isMissing(cause));
            }
        },
        async delete(handle) {
            const { key } = locate(handle);
            try {
                await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
            }
            catch (cause) {
                if (!isMissing(cause))
                    throw new HandledError(ErrorCode.RESULT_WRITE_FAILED, `Cannot delete "${handle}".`, { cause });
            }
        },
    };
}
//# sourceMappingURL=s3.js.map