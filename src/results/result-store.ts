import { createHash } from "node:crypto";
import { PassThrough, Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StringDecoder } from "node:string_decoder";
import pLimit, { type LimitFunction } from "p-limit";
import { ErrorCode, HandledError } from "../errors.js";
import { checkJsonDepth, checkText } from "../validation.js";
import {
  type Codec,
  decode,
  decodingStreams,
  type Encoded,
  encode,
  encodingStreams,
  type Keyring,
  writeKeyOf,
} from "./codecs.js";
import { withoutPolicy } from "./handler-definition.js";
import type { HandlerRegistry, Reach } from "./handler-registry.js";
import { type HandlerSpec, type HandlerType, parseHandlerSpec, specFromRow } from "./handler-spec.js";
import { type IntegrityFailure, integrityError, parseSha256, sha256Of, sha256OfText } from "./integrity.js";
import { jsonBytes } from "./json-bytes.js";
import type { ResponseBudget } from "./response-budget.js";
import type { ByteRange, Handle, ResultHandler } from "./result-handler.js";

/** A handle and the spec of the handler that reads it: what a result row holds. */
export interface StoredHandle {
  /** The handler that took the value, without write policy (JSON when it was kept inline). */
  spec: HandlerSpec;
  handle: Handle;
  /** Size of the value's JSON text, in bytes. */
  sizeBytes: number;
  /** SHA-256 of the stored bytes (after codecs), hex; null for a pre-handled result whose client gave none. */
  sha256: string | null;
  /** Size of the stored bytes after codecs; null when no codec was applied (they are the JSON text). */
  storedBytes: number | null;
  /** The codecs applied, in order. */
  codecs: Codec[];
  /** The encryption key's id, when one was used. */
  keyId: string | null;
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
  /** Size of the stored bytes after codecs; null (or absent) when none was applied. */
  storedBytes?: bigint | null;
  /** The codecs applied on write, in order; empty (or absent) for none. */
  codecs?: readonly string[];
  /** The encryption key's id, for an encrypted result. */
  keyId?: string | null;
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
  /** The largest JSON handle: a value is kept inline (inlineBelowBytes) only if it fits. */
  inlineMaxBytes: number;
  /** The encryption keys, for `aes-256-gcm`. */
  keyring: Keyring;
  /** Told of every read refused with RESULT_INTEGRITY (to count them), by handler type. */
  onIntegrityFailure?: (handler: HandlerType) => void;
  /** Told of every value read from its row (see ResultStore.read), with its size: no handler call counts it. */
  onInlineRead?: (bytes: number) => void;
}

/**
 * Encoded bytes kept inline: a JSON handle must be JSON text, so they are kept as a JSON string
 * of their base64.
 */
const inlineForm = (bytes: Buffer) => Buffer.from(JSON.stringify(bytes.toString("base64")), "utf8");

function fromInlineForm(handle: Buffer): Buffer {
  let text: unknown;
  try {
    text = JSON.parse(handle.toString("utf8"));
  } catch (cause) {
    throw new HandledError(ErrorCode.RESULT_CORRUPT, "The stored data of this result is not valid JSON.", { cause });
  }
  if (typeof text !== "string") {
    throw new HandledError(ErrorCode.RESULT_CORRUPT, "The stored data of this result is not the encoded form written.");
  }
  return Buffer.from(text, "base64");
}

/**
 * A value ready to be written (see ResultStore.prepare): its handler and the bytes it will write,
 * and, for a handler that keeps data outside the database, the handle it will have, known before
 * anything is written so that it can be recorded first.
 */
export interface PreparedWrite {
  handler: ResultHandler;
  bytes: Buffer;
  handle: Handle | undefined;
  stored: Omit<StoredHandle, "handle">;
}

/** Where bytes a client sends go: a handler of the task run's, and a new handle of it. */
export interface UploadTarget {
  /** The task run's handler, with its codecs (applied when the bytes come through the server). */
  spec: HandlerSpec;
  handler: ResultHandler;
  handle: Handle;
}

/** What the server learnt of bytes it wrote as they came (see writeStream). */
export interface StreamedWrite {
  /** SHA-256 of the stored bytes (after codecs), hex. */
  sha256: string;
  storedBytes: number;
  /** Size of the bytes as they came, before codecs. */
  valueBytes: number;
  /** The codecs applied, in order. */
  codecs: Codec[];
  keyId: string | null;
}

/** A prepared upload, as recorded, for the state that records its handle (see verifyPrepared). */
export interface PreparedResult {
  spec: HandlerSpec;
  handle: Handle;
  /** The stored bytes' size the client declared, or the server saw. */
  storedBytes: number | null;
  /** Declared by the client, or seen by the server. */
  sha256: string | null;
  /** Set when the server applied codecs. */
  valueBytes: number | null;
  codecs: readonly string[];
  keyId: string | null;
}

/** A stored result's bytes as a stream, decoded, and what a download says of them. */
export interface ResultStream {
  stream: Readable;
  /** Bytes the stream gives (the range's, when one was served). */
  length: number;
  /** Size of the whole value. */
  size: number;
  /** The range served; none when the whole value is. */
  range?: ByteRange;
}

/** A stream that counts and hashes (SHA-256) the bytes going through it. */
type Hasher = Transform & { digest: () => string; bytes: number };

/** Counts and hashes bytes going through; fails with PAYLOAD_TOO_LARGE past `maxBytes`. */
function hasher(maxBytes = Number.POSITIVE_INFINITY, what = "The data"): Hasher {
  const hash = createHash("sha256");
  const through = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      through.bytes += chunk.length;
      if (through.bytes > maxBytes) {
        done(new HandledError(ErrorCode.PAYLOAD_TOO_LARGE, `${what} is over ${maxBytes} bytes; nothing was kept.`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  }) as Hasher;
  through.bytes = 0;
  through.digest = () => hash.digest("hex");
  return through;
}

/** A result's recorded size; results recorded before sizes were kept are asked for theirs (a stat, a HEAD). */
async function sizeOf(row: ResultRow, handler: ResultHandler): Promise<number> {
  return row.sizeBytes === null ? (await handler.verifyHandle(row.handle)).sizeBytes : Number(row.sizeBytes);
}

/** How many parsed specs the store keeps (see specOf); past this many, the kept ones are let go. */
const KEPT_SPECS = 256;

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
  /** Specs parsed from rows, by handler type and config (see specOf). */
  private readonly specs = new Map<string, HandlerSpec>();

  constructor(private readonly options: ResultStoreOptions) {
    this.largeReads = pLimit(options.largeReadConcurrency);
  }

  /**
   * Encodes a value as JSON text. Throws BAD_USER_INPUT for a value nested too deep,
   * VALUE_TOO_LARGE over the size limit.
   */
  encode(value: unknown): EncodedValue {
    return { json: jsonBytes(value, this.options.maxJsonDepth, this.options.maxValueBytes) };
  }

  /**
   * Checks that what a spec asks of writes can be done here, without writing: throws
   * RESULT_KEY_UNAVAILABLE when it encrypts and the server has no key to write with.
   */
  checkPolicy(spec: HandlerSpec): void {
    if (spec.codecs?.includes("aes-256-gcm")) writeKeyOf(this.options.keyring);
  }

  /**
   * Writes an encoded value through the handler of `spec`, within `reach`, through the spec's
   * codecs; a value smaller than its `inlineBelowBytes` is kept inline, by the JSON handler,
   * when it fits one. Returns what to store: the handler that took it, and what was applied.
   */
  async write(spec: HandlerSpec, value: EncodedValue, reach: Reach): Promise<StoredHandle> {
    return this.put(await this.prepare(spec, value, reach));
  }

  /**
   * Does all of `write` but the writing: encodes the value, picks the handler that will take it
   * and, when that handler keeps data outside the database, the handle it will have. Writes
   * nothing; throws as `write` does for what it can tell before writing.
   */
  async prepare(spec: HandlerSpec, value: EncodedValue, reach: Reach): Promise<PreparedWrite> {
    const { codecs = [], inlineBelowBytes } = spec;
    const encoded: Encoded =
      codecs.length === 0
        ? { bytes: value.json, codecs: [], keyId: null }
        : await encode(value.json, codecs, this.options.keyring);
    // Encoded bytes kept inline travel as text (inlineForm): base64, in quotes.
    const encodedAsText = encoded.codecs.length > 0;
    const inlineBytes = encodedAsText ? 4 * Math.ceil(encoded.bytes.length / 3) + 2 : encoded.bytes.length;
    const target: HandlerSpec =
      spec.type === "JSON" ||
      (inlineBelowBytes !== undefined &&
        value.json.length < inlineBelowBytes &&
        inlineBytes <= this.options.inlineMaxBytes)
        ? { type: "JSON" }
        : (withoutPolicy(spec) as HandlerSpec);
    const handler = await this.options.registry.handlerFor(target, reach);
    return {
      handler,
      bytes: target.type === "JSON" && encodedAsText ? inlineForm(encoded.bytes) : encoded.bytes,
      handle: handler.newHandle ? await handler.newHandle() : undefined,
      stored: {
        spec: target,
        sizeBytes: value.json.length,
        sha256: sha256Of(encoded.bytes),
        storedBytes: encoded.codecs.length === 0 ? null : encoded.bytes.length,
        codecs: encoded.codecs,
        keyId: encoded.keyId,
      },
    };
  }

  /** Writes what `prepare` prepared; returns what to store. Fails as `write` does. */
  async put(prepared: PreparedWrite): Promise<StoredHandle> {
    const handle = await prepared.handler.write(prepared.bytes, prepared.handle);
    return { ...prepared.stored, handle };
  }

  /**
   * Where bytes a client sends for a result go: the handler of `spec` (the task run's, resolved
   * as for a write) within `reach`, and a new handle of it. Throws BAD_USER_INPUT for a JSON
   * handler (it keeps values in the database, sent with setTaskRunStates), and as `write` does.
   */
  async uploadTarget(spec: HandlerSpec, reach: Reach, at?: Handle): Promise<UploadTarget> {
    if (spec.type === "JSON") {
      throw new HandledError(
        ErrorCode.BAD_USER_INPUT,
        "This task run's results go to the JSON handler, which keeps them in the database: send the value with setTaskRunStates.",
      );
    }
    this.checkPolicy(spec);
    const handler = await this.options.registry.handlerFor(withoutPolicy(spec) as HandlerSpec, reach);
    if (!handler.newHandle || !handler.writeStream) {
      throw new HandledError(ErrorCode.BAD_USER_INPUT, `The ${spec.type} handler does not take uploads.`);
    }
    return { spec, handler, handle: at ?? (await handler.newHandle()) };
  }

  /**
   * Writes the bytes a stream gives to an upload target, through its spec's codecs, holding a
   * part at most in memory, and hashing the stored bytes on the way. Throws PAYLOAD_TOO_LARGE past
   * `maxBytes` (the stream is cut off), RESULT_INTEGRITY when the bytes received are not of the
   * `sha256` or `sizeBytes` given; either way, and on any failure, nothing is left at the handle.
   */
  async writeStream(
    target: UploadTarget,
    source: Readable,
    options: {
      maxBytes: number;
      contentType: string;
      /** What the client says the bytes it sends are: their SHA-256 (hex) and size. */
      sha256?: string | null;
      sizeBytes?: number | null;
      /** What the bytes are called in a message ("The request body"). */
      what: string;
    },
  ): Promise<StreamedWrite> {
    const codecs = target.spec.codecs ?? [];
    const { streams, keyId } = encodingStreams(codecs, this.options.keyring);
    // The bytes as sent: counted (and cut off past the limit) and hashed, for the SHA-256 declared.
    const counted = hasher(options.maxBytes, options.what);
    // Without codecs the bytes stored are the bytes sent: one pass counts and hashes them.
    const hashed = codecs.length === 0 ? counted : hasher();
    const fail = (message: string, check: IntegrityFailure["check"]) =>
      integrityError(`${message}; nothing was kept.`, { handler: target.spec.type, location: target.handle, check });
    try {
      await Promise.all([
        pipeline([source, counted, ...streams, ...(hashed === counted ? [] : [hashed])]),
        target.handler.writeStream!(hashed, target.handle, options.contentType),
      ]);
      const sha256 = hashed.digest();
      if (options.sizeBytes !== undefined && options.sizeBytes !== null && options.sizeBytes !== counted.bytes) {
        throw fail(`${options.what} is ${counted.bytes} bytes, not the ${options.sizeBytes} declared`, "size");
      }
      if (options.sha256 && options.sha256 !== (hashed === counted ? sha256 : counted.digest())) {
        throw fail(`${options.what} does not have the SHA-256 declared`, "sha256");
      }
      return { sha256, storedBytes: hashed.bytes, valueBytes: counted.bytes, codecs: [...codecs], keyId };
    } catch (error) {
      source.destroy();
      // A partial file goes with its write; what a store kept of an upload cut short goes here.
      await target.handler.delete?.(target.handle).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Checks a prepared upload's object, for the state that records it (see ResultStore.verifyHandled
   * for results a client handled without preparing them): it must be there, of the size declared
   * or seen, and its SHA-256 (kept by the store) the one declared or seen. Returns what to store.
   */
  async verifyPrepared(prepared: PreparedResult, claimed: ClaimedIntegrity, reach: Reach): Promise<StoredHandle> {
    const { spec, handle } = prepared;
    const handler = await this.options.registry.handlerFor(spec, reach);
    const { sizeBytes: stored, sha256: kept } = await handler.verifyHandle(handle);
    const fail = (message: string, check: IntegrityFailure["check"]) =>
      integrityError(`${message}; nothing was recorded.`, { handler: spec.type, location: handle, check });
    if (prepared.storedBytes !== null && prepared.storedBytes !== stored) {
      throw fail(`The uploaded object is ${stored} bytes, not the ${prepared.storedBytes} declared`, "size");
    }
    const encoded = prepared.codecs.length > 0;
    const sizeBytes = encoded ? (prepared.valueBytes ?? stored) : stored;
    if (claimed.sizeBytes !== undefined && claimed.sizeBytes !== null && claimed.sizeBytes !== sizeBytes) {
      throw fail(`The uploaded result is ${sizeBytes} bytes, not the ${claimed.sizeBytes} given`, "size");
    }
    const given = claimed.sha256 === undefined || claimed.sha256 === null ? null : parseSha256(claimed.sha256);
    const known = [prepared.sha256, kept ?? null, given].filter((hash): hash is string => hash !== null);
    if (known.some((hash) => hash !== known[0])) {
      throw fail("The uploaded object's SHA-256 is not the one declared", "sha256");
    }
    return {
      spec,
      handle,
      sizeBytes,
      sha256: known[0] ?? null,
      storedBytes: encoded ? stored : null,
      codecs: prepared.codecs as Codec[],
      keyId: prepared.keyId,
    };
  }

  /**
   * A stored result's bytes as a stream, decoded, for a download: the whole value, or `range`
   * of it when its handler reads ranges and no codec was applied (a range of encoded bytes is not
   * one of the value's). The stream fails (so a download is cut short, never wrong) when the
   * bytes are not what was recorded: another size, SHA-256 (checked when the whole is read) or
   * ciphertext that does not authenticate. Throws as `read` does before anything is sent.
   */
  async openStream(row: ResultRow, reach: Reach, range?: ByteRange): Promise<ResultStream> {
    const handler = await this.handlerOf(row, reach);
    const codecs = (row.codecs ?? []) as Codec[];
    if (!handler.readStream || row.handlerType === "JSON" || row.sizeBytes === null) {
      // A JSON handle is the value; a result without a recorded size is read and checked whole.
      const bytes = await this.readDecoded(row, handler, await sizeOf(row, handler));
      const part = range ? bytes.subarray(range.start, range.end + 1) : bytes;
      return { stream: Readable.from([part]), length: part.length, size: bytes.length, ...(range ? { range } : {}) };
    }
    const size = Number(row.sizeBytes);
    const storedBytes =
      codecs.length > 0 && row.storedBytes !== null && row.storedBytes !== undefined ? Number(row.storedBytes) : size;
    const ranged = range && codecs.length === 0 ? range : undefined;
    const { stream: source, size: found } = await handler.readStream(row.handle, ranged);
    if (found !== storedBytes) {
      source.destroy();
      throw this.integrityFailure(
        row,
        `The stored data of this result is ${found} bytes, not the ${storedBytes} recorded.`,
        "size",
      );
    }
    // The last piece is held back until the whole has been hashed: bytes that are not what was
    // written never arrive whole.
    const checks: Transform[] = [];
    if (!ranged && row.sha256) {
      const expected = row.sha256;
      const hash = createHash("sha256");
      let held: Buffer | undefined;
      checks.push(
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            const previous = held;
            held = chunk;
            done(null, previous);
          },
          flush: (done) => {
            if (hash.digest("hex") !== expected) {
              done(
                integrityError(
                  "The stored data of this result is not what was written: its SHA-256 differs (replaced, altered or truncated).",
                  { handler: row.handlerType, location: row.handle, check: "sha256" },
                ),
              );
              return;
            }
            done(null, held);
          },
        }),
      );
    }
    const decoders = decodingStreams(codecs, row.keyId ?? null, size, this.options.keyring);
    const length = ranged ? ranged.end - ranged.start + 1 : size;
    const out = new PassThrough();
    pipeline([source, ...checks, ...decoders, out]).catch((error: unknown) => {
      if (error instanceof HandledError && error.code === ErrorCode.RESULT_INTEGRITY) {
        this.options.onIntegrityFailure?.(row.handlerType);
      }
      out.destroy(error as Error);
    });
    return { stream: out, length, size, ...(ranged ? { range: ranged } : {}) };
  }

  /**
   * Checks a result a client wrote itself: its handler must be valid and within the server's
   * reach and the caller's, and its handle of that handler's form and inside it. What the client
   * says of it is checked as far as the store tells without reading it (its size; a JSON handle's
   * SHA-256, the handle being the value; the SHA-256 an object store keeps with the object), and
   * the SHA-256 (given, or kept by the store) on every read after. Throws RESULT_INTEGRITY when
   * what is there is not what the client says. Returns what to store.
   */
  async verifyHandled(
    handlerInput: unknown,
    handle: string,
    reach: Reach,
    claimed: ClaimedIntegrity = {},
  ): Promise<StoredHandle> {
    const spec = parseHandlerSpec(handlerInput);
    if (spec.codecs !== undefined || spec.inlineBelowBytes !== undefined) {
      throw new HandledError(
        ErrorCode.BAD_USER_INPUT,
        "codecs and inlineBelowBytes apply to values the server writes, not to results a client handled itself.",
      );
    }
    // A JSON handle is the value itself, bounded by the JSON handler's size limit instead.
    checkText(handle, "A handle", spec.type === "JSON" ? Number.POSITIVE_INFINITY : this.options.maxHandleLength);
    let sha256 = claimed.sha256 === undefined || claimed.sha256 === null ? null : parseSha256(claimed.sha256);
    const handler = await this.options.registry.handlerFor(spec, reach);
    const { sizeBytes, sha256: kept } = await handler.verifyHandle(handle);
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
    } else if (kept !== undefined) {
      // The store keeps a SHA-256 with the object (its checksum, or metadata the client wrote).
      if (sha256 !== null && sha256 !== kept) {
        throw integrityError(
          "The store's SHA-256 of the data behind this handle is not the one given; nothing was recorded.",
          { handler: spec.type, location, check: "sha256" },
        );
      }
      sha256 = kept;
    }
    return { spec, handle, sizeBytes, sha256, storedBytes: null, codecs: [], keyId: null };
  }

  /**
   * Best-effort removal of what `write` wrote, for a request that records nothing. Resolves to
   * the handles it could not remove (left to the sweeper).
   */
  async discard(written: readonly StoredHandle[], reach: Reach): Promise<Set<Handle>> {
    const settled = await Promise.allSettled(
      written.map(async ({ spec, handle }) => (await this.options.registry.handlerFor(spec, reach)).delete?.(handle)),
    );
    return new Set(written.filter((_, i) => settled[i]!.status === "rejected").map((stored) => stored.handle));
  }

  /**
   * Reads a stored result's value through the handler that wrote it, within the reach `reachOf`
   * gives, once its size is taken from the request's budget. Throws RESULT_NOT_HANDLED,
   * RESPONSE_TOO_LARGE, HANDLE_OUT_OF_BOUNDS, RESULT_NOT_FOUND, RESULT_READ_FAILED, STORE_TIMEOUT,
   * RESULT_INTEGRITY
   * (not the bytes recorded: another SHA-256 or size, or ciphertext that does not authenticate),
   * RESULT_KEY_UNAVAILABLE (encrypted with a key the server no longer has) or RESULT_CORRUPT (not
   * JSON, not decodable, or nested deeper than values may be). `reachOf` is asked only for a
   * value kept outside the database. A value kept inline is given at once (see inlineSize).
   */
  read(row: ResultRow, budget: ResponseBudget, reachOf: () => Reach | Promise<Reach>): unknown {
    const size = this.inlineSize(row);
    if (size === undefined) return this.readThroughHandler(row, budget, reachOf);
    budget.reserve(size);
    const value = this.parseValue(row.handle);
    this.options.onInlineRead?.(size);
    return value;
  }

  /**
   * The size of a value the JSON handler keeps in its row, when it can be read at once: handled,
   * without codecs, of the size recorded (so the handle is the whole value, unaltered) and below
   * the large reads. Undefined for anything else, which goes through the handler and its checks.
   * A page of such values then resolves in one pass of GraphQL's execution, with no promise each.
   */
  private inlineSize(row: ResultRow): number | undefined {
    if (!row.handled || row.handlerType !== "JSON" || row.sizeBytes === null || row.codecs?.length) return undefined;
    const size = Number(row.sizeBytes);
    if (size >= this.options.largeReadBytes || Buffer.byteLength(row.handle, "utf8") !== size) return undefined;
    // A stored handler that does not parse is left to handlerOf to refuse.
    try {
      this.specOf(row);
    } catch {
      return undefined;
    }
    return size;
  }

  private async readThroughHandler(
    row: ResultRow,
    budget: ResponseBudget,
    reachOf: () => Reach | Promise<Reach>,
  ): Promise<unknown> {
    const handler = await this.handlerOf(row, await reachOf());
    const size = await sizeOf(row, handler);
    budget.reserve(size);
    const readAndParse = async () => this.parseValue((await this.readBytes(row, handler, size)).toString("utf8"));
    return size >= this.options.largeReadBytes ? this.largeReads(readAndParse) : readAndParse();
  }

  /** A stored value from its JSON text; RESULT_CORRUPT for text that is not JSON or nests too deep. */
  private parseValue(text: string): unknown {
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
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
  }

  /**
   * The first `maxBytes` bytes of a stored result's JSON text, read without fetching the rest,
   * cut back to whole characters, once they are taken from the request's budget. Fails as
   * `read` does, but never with RESULT_CORRUPT: a preview is text, not a parsed value.
   */
  async preview(row: ResultRow, maxBytes: number, budget: ResponseBudget, reach: Reach): Promise<ResultPreview> {
    const handler = await this.handlerOf(row, reach);
    budget.reserve(row.sizeBytes === null ? maxBytes : Math.min(maxBytes, Number(row.sizeBytes)));
    // Compressed or encrypted bytes have no readable start: the whole result is read, checked
    // and decoded (as a large read when it is one), and its start given.
    const start = row.codecs?.length
      ? await this.readDecoded(row, handler, Number(row.sizeBytes))
      : // One byte more than asked tells whether the text goes on.
        await handler.readStart(row.handle, maxBytes + 1);
    // A decoder gives back only whole characters and keeps a cut one to itself.
    const text = new StringDecoder("utf8").write(start.subarray(0, maxBytes));
    return { text, truncated: start.length > maxBytes };
  }

  /** readBytes, as a large read when the value is large. */
  private readDecoded(row: ResultRow, handler: ResultHandler, size: number): Promise<Buffer> {
    const read = () => this.readBytes(row, handler, size);
    return size >= this.options.largeReadBytes ? this.largeReads(read) : read();
  }

  /**
   * The value's JSON text (UTF-8 bytes), read through `handler`, checked to be what was stored
   * before anything decodes it, then with its codecs undone. `size` is the value's recorded size.
   */
  private async readBytes(row: ResultRow, handler: ResultHandler, size: number): Promise<Buffer> {
    const codecs = (row.codecs ?? []) as Codec[];
    if (codecs.length === 0) {
      const bytes = await handler.read(row.handle, size);
      this.checkIntegrity(row, bytes, size);
      return bytes;
    }
    const storedBytes = row.storedBytes === null || row.storedBytes === undefined ? size : Number(row.storedBytes);
    const stored =
      row.handlerType === "JSON"
        ? fromInlineForm(await handler.read(row.handle))
        : await handler.read(row.handle, storedBytes);
    this.checkIntegrity(row, stored, storedBytes);
    let json: Buffer;
    try {
      json = await decode({ bytes: stored, codecs, keyId: row.keyId ?? null }, size, this.options.keyring);
    } catch (error) {
      if (!(error instanceof HandledError) || error.code !== ErrorCode.RESULT_INTEGRITY) throw error;
      throw this.integrityFailure(row, error.message, "aes-256-gcm");
    }
    if (json.length !== size) {
      throw this.integrityFailure(
        row,
        `The stored data of this result decodes to ${json.length} bytes, not the ${size} recorded.`,
        "size",
      );
    }
    return json;
  }

  /** A RESULT_INTEGRITY error for `row`, counted. */
  private integrityFailure(row: ResultRow, message: string, check: IntegrityFailure["check"]): HandledError {
    const location = row.handlerType === "JSON" ? undefined : row.handle;
    this.options.onIntegrityFailure?.(row.handlerType);
    return integrityError(message, { handler: row.handlerType, location, check });
  }

  /**
   * Throws RESULT_INTEGRITY when the bytes read are not what was recorded: their SHA-256, when one
   * was recorded (and the handle is not the value itself), or else their size.
   */
  private checkIntegrity(row: ResultRow, bytes: Buffer, size: number): void {
    // A JSON handle is the value, kept in PostgreSQL in the same row as its hash: whoever could
    // change one could change the other, so its size is checked, and no time spent on a hash.
    if (row.sha256 && row.handlerType !== "JSON") {
      if (sha256Of(bytes) !== row.sha256) {
        throw this.integrityFailure(
          row,
          "The stored data of this result is not what was written: its SHA-256 differs (replaced, altered or truncated).",
          "sha256",
        );
      }
    } else if (bytes.length !== size) {
      throw this.integrityFailure(
        row,
        `The stored data of this result is ${bytes.length} bytes, not the ${size} recorded.`,
        "size",
      );
    }
  }

  /** The handler a stored result is read with, within `reach`; RESULT_NOT_HANDLED for a result never handled. */
  async handlerOf(row: ResultRow, reach: Reach): Promise<ResultHandler> {
    if (!row.handled) {
      throw new HandledError(
        ErrorCode.RESULT_NOT_HANDLED,
        "This result was never handled, so it has no value to serve.",
      );
    }
    let spec: HandlerSpec;
    try {
      spec = this.specOf(row);
    } catch (cause) {
      throw new HandledError(ErrorCode.RESULT_READ_FAILED, "The stored handler of this result is invalid.", { cause });
    }
    return this.options.registry.handlerFor(spec, reach);
  }

  /**
   * The spec of a row's handler (see specFromRow), parsed once for all the rows that store the
   * same one. Throws as specFromRow does; what does not parse is not kept.
   */
  private specOf(row: ResultRow): HandlerSpec {
    const key = `${row.handlerType}\0${JSON.stringify(row.handlerConfig)}`;
    let spec = this.specs.get(key);
    if (spec === undefined) {
      spec = Object.freeze(specFromRow(row.handlerType, row.handlerConfig));
      if (this.specs.size >= KEPT_SPECS) this.specs.clear();
      this.specs.set(key, spec);
    }
    return spec;
  }
}
