import { ErrorCode, HandledError } from "../errors.js";
import { createGcsHandler } from "./handlers/gcs.js";
import { createJsonHandler } from "./handlers/json.js";
import { createLocalHandler, resolveAllowedDir } from "./handlers/local.js";
import { createS3Handler } from "./handlers/s3.js";
export function createHandlerRegistry(options) {
    const json = createJsonHandler({ maxBytes: options.jsonMaxBytes });
    const factories = {
        JSON: async () => json,
        LOCAL: async (spec) => createLocalHandler({ dir: spec.dir, allowedDirs: options.localDirs }),
        S3: async ({ bucket, prefix }) => {
            const s3 = options.s3;
            if (!s3?.buckets.includes(bucket))
                throw bucketNotAllowed("S3", bucket);
            return createS3Handler({ bucket, prefix, client: s3.client, partSize: s3.partSize });
        },
        GCS: async ({ bucket, prefix }) => {
            const gcs = options.gcs;
            if (!gcs?.buckets.includes(bucket))
                throw bucketNotAllowed("GCS", bucket);
            return createGcsHandler({ bucket, prefix, storage: gcs.storage });
        },
    };
    function handlerFor(spec) {
        const factory = factories[spec.type];
        return factory(spec);
    }
    return {
        handlerFor,
        async checkReach(spec) {
            if (spec.type === "LOCAL")
                await resolveAllowedDir(spec.dir, options.localDirs);
            else
                await handlerFor(spec);
        },
    };
}
export function bucketNotAllowed(type, bucket) {
    return new HandledError(ErrorCode.HANDLE_OUT_OF_BOUNDS, `The ${type} bucket "${bucket}" is not one this server may read and write.`);
}
//# sourceMappingURL=handler-registry.js.map