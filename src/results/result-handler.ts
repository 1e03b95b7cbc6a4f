import type { Readable } from "node:stream";
import { ErrorCode, HandledError } from "../errors.js";

/**
 * A handle: the small string a handler's `write` returns and its `read` takes back (JSON
 * text, an absolute file path or a bucket URI). It is what PostgreSQL stores instead of data.
 */
export type Handle = string;

/**
 * The contract every result handler fulfils. Values reach handlers already encoded: the UTF-8
 * bytes of their JSON text (the service encodes once, to check the size, and keeps only the
 * bytes); handlers store those bytes and read them back as they are, for the service to check
 * (their SHA-256) and decode.
 *
 * Every method fails with a `HandledError`, its original error as `cause`:
 * - `HANDLE_OUT_OF_BOUNDS` when a handle names something outside what this handler may reach
 *   (another directory or bucket, a path escaping through `..` or a symlink);
 * - `RESULT_NOT_FOUND` when the data behind a handle is missing;
 * - `RESULT_WRITE_FAILED` / `RESULT_READ_FAILED` when the storage fails;
 * - `BAD_USER_INPUT` when a handle is not of this handler's form.
 */
export interface ResultHandler {
  /**
   * Writes a value's JSON text (UTF-8 bytes) and returns the handle to read it back with: `at`,
   * a handle `newHandle` gave, when given (so that it could be recorded before the write).
   * Throws HANDLE_OUT_OF_BOUNDS for an `at` that is not one of this handler's new handles.
   */
  write(json: Buffer, at?: Handle): Promise<Handle>;

  /**
   * Optional, for handlers whose data lives outside the database: a handle no data has, where
   * `write` may put the next value. Its name is random, so it is known only to whoever asked.
   */
  newHandle?(): Promise<Handle>;

  /**
   * Reads the bytes behind a handle written by this handler (or a client, with its spec).
   * With `maxBytes` (the size recorded for it), data larger than that is not read but refused
   * with RESULT_INTEGRITY, so a replaced file or object cannot make a read unbounded.
   */
  read(handle: Handle, maxBytes?: number): Promise<Buffer>;

  /**
   * Reads at most `maxBytes` bytes from the start of the JSON text behind a handle, without
   * fetching the rest (a ranged read). Returns fewer when the text is shorter.
   */
  readStart(handle: Handle, maxBytes: number): Promise<Buffer>;

  /**
   * Checks, without reading the data, that a handle a client sends is of this handler's form,
   * inside its reach, and there. Resolves to the size of the data behind it, in bytes, and its
   * SHA-256 (hex) where the store keeps one with it (see storedSha256).
   */
  verifyHandle(handle: Handle): Promise<{ sizeBytes: number; sha256?: string }>;

  /**
   * Optional, for handlers whose data lives outside the database: writes the bytes a stream gives
   * to `at` (a handle `newHandle` gave), holding a part at most in memory (a multipart or
   * resumable upload; a file). On failure nothing is left at `at`, and the stream is destroyed.
   */
  writeStream?(source: Readable, at: Handle, contentType: string): Promise<void>;

  /**
   * Optional: the bytes behind a handle as a stream, from `start` to `end` (inclusive) when given,
   * with the size of the whole. Checks the handle as `read` does.
   */
  readStream?(handle: Handle, range?: ByteRange): Promise<{ stream: Readable; size: number }>;

  /**
   * Optional: a URL a client sends the bytes of `at` (a handle `newHandle` gave) to itself, good
   * for `expiresInSeconds`, with the method and headers the request must use.
   */
  presignUpload?(at: Handle, options: PresignUploadOptions): Promise<PresignedRequest>;

  /** Optional: a URL a client GETs the bytes behind a handle from, straight from the store. */
  presignDownload?(handle: Handle, expiresInSeconds: number): Promise<string>;

  /**
   * Optional: removes what `write` wrote. Used to undo writes of a request that fails before
   * anything is recorded. Resolves when the data is gone or was already missing.
   */
  delete?(handle: Handle): Promise<void>;
}

/**
 * The error a handler's `read` throws when the data is larger than the size asked for. `where`
 * names the data for people (a quoted path or URI; never a JSON handle, which is the value).
 */
export function largerThanRecorded(where: string, maxBytes: number): HandledError {
  return new HandledError(
    ErrorCode.RESULT_INTEGRITY,
    `The data behind ${where} is larger than the ${maxBytes} bytes recorded for it.`,
  );
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The SHA-256 an object store keeps with an object, as lowercase hex: the store's own full-object
 * checksum (base64) when it has one, else the `sha256` metadata a client wrote with the object.
 * Undefined when neither is there (or a checksum is a multipart upload's checksum of checksums).
 */
export function storedSha256(checksumBase64: string | undefined, metadata: unknown): string | undefined {
  if (checksumBase64 && !checksumBase64.includes("-")) {
    const digest = Buffer.from(checksumBase64, "base64");
    if (digest.length === 32) return digest.toString("hex");
  }
  const given = (metadata as Record<string, unknown> | undefined)?.sha256;
  return typeof given === "string" && SHA256_HEX.test(given.toLowerCase()) ? given.toLowerCase() : undefined;
}

/** Bytes `start` to `end` of some data, both inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What a presigned upload URL is made for. */
export interface PresignUploadOptions {
  expiresInSeconds: number;
  contentType: string;
  /** The SHA-256 (hex) the client says the bytes have: kept with the object, for reads to check. */
  sha256?: string | undefined;
}

/** A request a client makes to a store itself. */
export interface PresignedRequest {
  url: string;
  method: "PUT";
  /** Headers the request must carry (they are part of the signature). */
  headers: Record<string, string>;
}
