import { StringDecoder } from "node:string_decoder";
import pLimit, { type LimitFunction } from "p-limit";
import { ErrorCode, HandledError } from "../errors.js";
import { checkJsonDepth, checkText } from "../validation.js";
import type { HandlerRegistry, Reach } from "./handler-registry.js";
import { type HandlerSpec, type HandlerType, parseHandlerSpec, specFromRow } from "./handler-spec.js";
import { integrityError, parseSha256, sha256Of, sha256OfText } from "./integrity.js";
import type { ResponseBudget } from "./response-budget.js";
import type { Handle, ResultHandler } from "./result-handler.js";

/** A handle and the spec of the handler that reads it: what a result row holds. */
export interface StoredHandle {
  spec: HandlerSpec;
  handle: Handle;
  /** Size of the value's JSON text, in bytes. */
  sizeBytes: number;
  /** SHA-256 of the stored bytes, hex; null for a pre-handled result whose client gave none. */
  sha256: string | null;
}

/** What a client says of a result it wrote itself, for the server to check. */
export interface ClaimedIntegrity {
  sha256?: string | null;
  sizeBytes?: number | null;
}

/** The start of a value's JSON text. */
export interface ResultPreview {
  /** Whole characters only: a character cut by the byte limit is left out. */
  text: string;
  /** Whether the text goes on past what is given. */
  truncated: boolean;
}

/** A result row, as far as reading its value needs. */
export interface ResultRow {
  handlerType: HandlerType;
  handlerConfig: unknown;
  handle: string;
  handled: boolean;
  /** Size of the stored JSON text; null for results recorded before sizes were kept. */
  sizeBytes: bigint | null;
  /** SHA-256 of the stored bytes; null (or absent) for results recorded without one. */
  sha256?: string | null;
}

/** Options of the result store. */
export interface ResultStoreOptions {
  registry: HandlerRegistry;
  /** Largest value, as JSON text in bytes, it writes. */
  maxValueBytes: number;
  /** How deep objects and arrays may nest in a value it writes. */
  maxJsonDepth: number;
  /** Longest LOCAL, S3 or GCS handle it accepts from a client, in characters. */
  maxHandleLength: number;
  /** Values at least this large are read through `largeReads`. */
  largeReadBytes: number;
  /** How many large values this process reads (and parses) at once; the rest wait. */
  largeReadConcurrency: number;
  /** Told of every read refused with RESULT_INTEGRITY (to count them), by handler type. */
  onIntegrityFailure?: (handler: HandlerType) => void;
}

/** A value encoded once as the UTF-8 bytes of its JSON text, ready for any handler. */
export interface EncodedValue {
  json: Buffer;
}

/**
 * Writes values through handlers and reads them back; the one place results cross between
 * the API and storage. It never lets a raw value reach the database: what it hands back to
 * be stored is a handle.
 */
export class ResultStore {
  private readonly largeReads: LimitFunction;

  constructor(private readonly options: ResultStoreOptions) {
    this.largeReads = pLimit(options.largeReadConcurrency);
  }

  /**
   * Encodes a value as JSON text. Throws BAD_USER_INPUT for a value nested too deep,
   * VALUE_TOO_LARGE over the size limit.
   */
  encode(value: unknown): EncodedValue {
    checkJsonDepth(value, this.options.maxJsonDepth);
    // Only the bytes are kept: the text is garbage once they exist, so a large value is held
    // once while it is written.
    const json = Buffer.from(JSON.stringify(value), "utf8");
    const bytes = json.length;
    if (bytes > this.options.maxValueBytes) {
      throw new HandledError(
        ErrorCode.VALUE_TOO_LARGE,
        `The value is ${bytes} bytes of JSON; this server accepts at most ${this.options.maxValueBytes} (HANDLED_MAX_VALUE_BYTES).`,
      );
    }
    return { json };
  }

  /** Writes an encoded value through the handler of `spec`, within `reach`; returns what to store. */
  async write(spec: HandlerSpec, value: EncodedValue, reach: Reach): Promise<StoredHandle> {
    const handler = await this.options.registry.handlerFor(spec, reach);
    const sha256 = sha256Of(value.json);
    return { spec, handle: await handler.write(value.json), sizeBytes: value.json.length, sha256 };
  }

  /**
   * Checks a result a client wrote itself: its handler must be valid and within the server's
   * reach and the caller's, and its handle of that handler's form and inside it. What the client
   * says of it is checked as far as the store tells without reading it (its size; a JSON handle's
   * SHA-256, the handle being the value), and the SHA-256 it gives on every read after. Throws
   * RESULT_INTEGRITY when what is there is not what the client says. Returns what to store.
   */
  async verifyHandled(
    handlerInput: unknown,
    handle: string,
    reach: Reach,
    claimed: ClaimedIntegrity = {},
  ): Promise<StoredHandle> {
    const spec = parseHandlerSpec(handlerInput);
    // A JSON handle is the value itself, bounded by the JSON handler's size limit instead.
    checkText(handle, "A handle", spec.type === "JSON" ? Number.POSITIVE_INFINITY : this.options.maxHandleLength);
    let sha256 = claimed.sha256 === undefined || claimed.sha256 === null ? null : parseSha256(claimed.sha256);
    const handler = await this.options.registry.handlerFor(spec, reach);
    const { sizeBytes } = await handler.verifyHandle(handle);
    const location = spec.type === "JSON" ? undefined : handle;
    if (claimed.sizeBytes !== undefined && claimed.sizeBytes !== null && claimed.sizeBytes !== sizeBytes) {
      throw integrityError(
        `The data behind this handle is ${sizeBytes} bytes, not the ${claimed.sizeBytes} given; nothing was recorded.`,
        { handler: spec.type, location, check: "size" },
      );
    }
    if (spec.type === "JSON") {
      const actual = sha256OfText(handle);
      if (sha256 !== null && sha256 !== actual) {
        throw integrityError("The JSON handle's SHA-256 is not the one given; nothing was recorded.", {
          handler: spec.type,
          check: "sha256",
        });
      }
      sha256 = actual;
    }
    return { spec, handle, sizeBytes, sha256 };
  }

  /** Best-effort removal of what `write` wrote, for a request that records nothing. */
  async discard(written: readonly StoredHandle[], reach: Reach): Promise<void> {
    await Promise.allSettled(
      written.map(async ({ spec, handle }) => (await this.options.registry.handlerFor(spec, reach)).delete?.(handle)),
    );
  }

  /**
   * Reads a stored result's value through the handler that wrote it, within `reach`, once its
   * size is taken from the request's budget. Throws RESULT_NOT_HANDLED, RESPONSE_TOO_LARGE,
   * HANDLE_OUT_OF_BOUNDS, RESULT_NOT_FOUND, RESULT_READ_FAILED, STORE_TIMEOUT, RESULT_INTEGRITY
   * (not the bytes recorded: another SHA-256 or size) or RESULT_CORRUPT (not JSON, or nested
   * deeper than values may be).
   */
  async read(row: ResultRow, budget: ResponseBudget, reach: Reach): Promise<unknown> {
    const handler = await this.handlerOf(row, reach);
    // Results recorded before sizes were kept are asked for theirs (a stat, a HEAD).
    const size = row.sizeBytes === null ? (await handler.verifyHandle(row.handle)).sizeBytes : Number(row.sizeBytes);
    budget.reserve(size);
    const readAndParse = async () => {
      const bytes = await handler.read(row.handle, size);
      // Served only if it is what was written: checked before it is decoded.
      this.checkIntegrity(row, bytes, size);
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString("utf8")) as unknown;
      } catch (cause) {
        throw new HandledError(ErrorCode.RESULT_CORRUPT, "The stored data of this result is not valid JSON.", {
          cause,
        });
      }
      // Data a client wrote itself can nest deeper than any value the server writes; serialising
      // it into the response would overflow the stack and fail the whole response.
      try {
        checkJsonDepth(value, this.options.maxJsonDepth);
      } catch (cause) {
        throw new HandledError(
          ErrorCode.RESULT_CORRUPT,
          `The stored value nests deeper than ${this.options.maxJsonDepth} levels, so it is not served.`,
          { cause },
        );
      }
      return value;
    };
    return size >= this.options.largeReadBytes ? this.largeReads(readAndParse) : readAndParse();
  }

  /**
   * The first `maxBytes` bytes of a stored result's JSON text, read without fetching the rest,
   * cut back to whole characters, once they are taken from the request's budget. Fails as
   * `read` does, but never with RESULT_CORRUPT: a preview is text, not a parsed value.
   */
  async preview(row: ResultRow, maxBytes: number, budget: ResponseBudget, reach: Reach): Promise<ResultPreview> {
    const handler = await this.handlerOf(row, reach);
    budget.reserve(row.sizeBytes === null ? maxBytes : Math.min(maxBytes, Number(row.sizeBytes)));
    // One byte more than asked tells whether the text goes on.
    const start = await handler.readStart(row.handle, maxBytes + 1);
    // A decoder gives back only whole characters and keeps a cut one to itself.
    const text = new StringDecoder("utf8").write(start.subarray(0, maxBytes));
    return { text, truncated: start.length > maxBytes };
  }

  /**
   * Throws RESULT_INTEGRITY when the bytes read are not what was recorded: their SHA-256, when one
   * was recorded (and the handle is not the value itself), or else their size.
   */
  private checkIntegrity(row: ResultRow, bytes: Buffer, size: number): void {
    const where = { handler: row.handlerType, location: row.handlerType === "JSON" ? undefined : row.handle };
    let failure: HandledError | undefined;
    // A JSON handle is the value, kept in PostgreSQL in the same row as its hash: whoever could
    // change one could change the other, so its size is checked, and no time spent on a hash.
    if (row.sha256 && row.handlerType !== "JSON") {
      if (sha256Of(bytes) !== row.sha256) {
        failure = integrityError(
          "The stored data of this result is not what was written: its SHA-256 differs (replaced, altered or truncated).",
          { ...where, check: "sha256" },
        );
      }
    } else if (bytes.length !== size) {
      failure = integrityError(`The stored data of this result is ${bytes.length} bytes, not the ${size} recorded.`, {
        ...where,
        check: "size",
      });
    }
    if (failure) {
      this.options.onIntegrityFailure?.(row.handlerType);
      throw failure;
    }
  }

  private async handlerOf(row: ResultRow, reach: Reach): Promise<ResultHandler> {
    if (!row.handled) {
      throw new HandledError(
        ErrorCode.RESULT_NOT_HANDLED,
        "This result was never handled, so it has no value to serve.",
      );
    }
    let spec: HandlerSpec;
    try {
      spec = specFromRow(row.handlerType, row.handlerConfig);
    } catch (cause) {
      throw new HandledError(ErrorCode.RESULT_READ_FAILED, "The stored handler of this result is invalid.", { cause });
    }
    return this.options.registry.handlerFor(spec, reach);
  }
}
