import { ErrorCode, HandledError } from "../../errors.js";
/**
 * The JSON handler: the handle is the JSON text of the value itself. The one handler whose
 * handle holds the data, so it is meant for small values (and is what parameters use).
 */
export function createJsonHandler(options) {
    function checkSize(bytes) {
        if (bytes > options.maxBytes) {
            throw new HandledError(ErrorCode.VALUE_TOO_LARGE, `The value is ${bytes} bytes of JSON; the JSON handler stores at most ${options.maxBytes}. Use a LOCAL, S3 or GCS handler for larger values.`);
        }
    }
    function parse(handle) {
        try {
            JSON.parse(handle);
        }
        catch (cause) {
            throw new HandledError(ErrorCode.BAD_USER_INPUT, "A JSON handle must be valid JSON text.", { cause });
        }
    }
    return {
        spec: { type: "JSON" },
        async write(json) {
            checkSize(json.length);
            return json.toString("utf8");
        },
        async read(handle) {
            // The handle is the data; decoding it (and reporting it corrupt) is the caller's part.
            return handle;
        },
        async verifyHandle(handle) {
            checkSize(Buffer.byteLength(handle));
            parse(handle);
        },
    };
}
//# sourceMappingURL=json.js.map