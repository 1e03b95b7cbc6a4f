import { ErrorCode, HandledError } from "../../errors.js";
import { defineHandler } from "../handler-definition.js";
import { type Handle, largerThanRecorded, type ResultHandler } from "../result-handler.js";

/** Settings (and options) of the JSON handler. */
export interface JsonSettings {
  /** The largest JSON text, in bytes, it accepts: its handle lives in the database. */
  maxBytes: number;
}

/**
 * The JSON handler: the handle is the JSON text of the value itself. The one handler whose
 * handle holds the data, so it is meant for small values (and is what parameters use).
 */
function createJsonHandler(options: JsonSettings): ResultHandler {
  function checkSize(bytes: number): void {
    if (bytes > options.maxBytes) {
      throw new HandledError(
        ErrorCode.VALUE_TOO_LARGE,
        `The value is ${bytes} bytes of JSON; the JSON handler stores at most ${options.maxBytes}. Use a handler of another type, which stores the value elsewhere, for larger values.`,
      );
    }
  }

  function parse(handle: Handle): void {
    try {
      JSON.parse(handle);
    } catch (cause) {
      throw new HandledError(ErrorCode.BAD_USER_INPUT, "A JSON handle must be valid JSON text.", { cause });
    }
  }

  return {
    async write(json) {
      checkSize(json.length);
      return json.toString("utf8");
    },
    async read(handle, maxBytes) {
      // The handle is the data; decoding it (and reporting it corrupt) is the caller's part.
      const bytes = Buffer.from(handle, "utf8");
      if (maxBytes !== undefined && bytes.length > maxBytes) throw largerThanRecorded("this JSON handle", maxBytes);
      return bytes;
    },
    async readStart(handle, maxBytes) {
      // No character takes less than a byte, so this many characters hold the bytes wanted.
      return Buffer.from(handle.slice(0, maxBytes)).subarray(0, maxBytes);
    },
    async verifyHandle(handle) {
      const sizeBytes = Buffer.byteLength(handle);
      checkSize(sizeBytes);
      parse(handle);
      return { sizeBytes };
    },
  };
}

/** The JSON handler type: no config, no storage, nothing to reach. */
export const jsonHandler = defineHandler({
  type: "JSON",
  config: {},
  handleIsValue: true,
  noun: "value",
  describe: () => undefined,
  place: () => undefined,
  isMissing: () => false,
  connect: (settings: JsonSettings) => settings,
  fromPlace: () => undefined,
  locate: async () => undefined,
  checkReach: async () => undefined,
  create: (_spec, options) => createJsonHandler(options),
});
