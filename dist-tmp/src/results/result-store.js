import { ErrorCode, HandledError } from "../errors.js";
import { handlerSpecSchema, specFromRow } from "./handler-spec.js";
/**
 * Writes values through handlers and reads them back; the one place results cross between
 * the API and storage. It never lets a raw value reach the database: what it hands back to
 * be stored is a handle.
 */
export class ResultStore {
    options;
    constructor(options) {
        this.options = options;
    }
    /** Encodes a value as JSON text. Throws VALUE_TOO_LARGE over the size limit. */
    encode(value) {
        // Only the bytes are kept: the text is garbage once they exist, so a large value is held
        // once while it is written.
        const json = Buffer.from(JSON.stringify(value), "utf8");
        const bytes = json.length;
        if (bytes > this.options.maxValueBytes) {
            throw new HandledError(ErrorCode.VALUE_TOO_LARGE, `The value is ${bytes} bytes of JSON; this server accepts at most ${this.options.maxValueBytes} (HANDLED_MAX_VALUE_BYTES).`);
        }
        return { json };
    }
    /** Writes an encoded value through the handler of `spec`; returns what to store. */
    async write(spec, value) {
        const handler = await this.options.registry.handlerFor(spec);
        return { spec: handler.spec, handle: await handler.write(value.json) };
    }
    /**
     * Checks a result a client wrote itself: its handler must be valid and within the server's
     * reach, and its handle of that handler's form and inside it. Returns what to store.
     */
    async verifyHandled(handlerInput, handle) {
        const spec = parseHandlerSpec(handlerInput);
        const handler = await this.options.registry.handlerFor(spec);
        await handler.verifyHandle(handle);
        return { spec: handler.spec, handle };
    }
    /** Best-effort removal of what `write` wrote, for a request that records nothing. */
    async discard(written) {
        await Promise.allSettled(written.map(async ({ spec, handle }) => (await this.options.registry.handlerFor(spec)).delete?.(handle)));
    }
    /**
     * Reads a stored result's value through the handler that wrote it. Throws
     * RESULT_NOT_HANDLED, HANDLE_OUT_OF_BOUNDS, RESULT_NOT_FOUND, RESULT_READ_FAILED or
     * RESULT_CORRUPT.
     */
    async read(row) {
        if (!row.handled) {
            throw new HandledError(ErrorCode.RESULT_NOT_HANDLED, "This result was never handled, so it has no value to serve.");
        }
        let spec;
        try {
            spec = specFromRow(row.handlerType, row.handlerConfig);
        }
        catch (cause) {
            throw new HandledError(ErrorCode.RESULT_READ_FAILED, "The stored handler of this result is invalid.", { cause });
        }
        const handler = await this.options.registry.handlerFor(spec);
        const json = await handler.read(row.handle);
        try {
            return JSON.parse(json);
        }
        catch (cause) {
            throw new HandledError(ErrorCode.RESULT_CORRUPT, "The stored data of this result is not valid JSON.", { cause });
        }
    }
}
/** Parses a handler from the API. Throws BAD_USER_INPUT naming each problem. */
export function parseHandlerSpec(input) {
    // GraphQL gives absent optional fields as missing or null; the spec wants them missing.
    const cleaned = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined));
    const parsed = handlerSpecSchema.safeParse(cleaned);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => issue.code === "unrecognized_keys"
            ? `${issue.keys.join(", ")} ${issue.keys.length > 1 ? "do" : "does"} not apply to ${String(cleaned.type)} handlers`
            : `${issue.path.join(".") || "handler"} ${issue.message}`);
        throw new HandledError(ErrorCode.BAD_USER_INPUT, `Invalid result handler: ${problems.join("; ")}.`);
    }
    return parsed.data;
}
//# sourceMappingURL=result-store.js.map