import { createHash } from "node:crypto";
import { ErrorCode, HandledError } from "../errors.js";
import type { HandlerType } from "./handler-spec.js";

/** From this size a value is hashed in the thread pool, beside the write or the parse. */
const OFF_THREAD_BYTES = 256 * 1024;

/** SHA-256 of bytes, lowercase hex. Large ones are hashed off the event loop (WebCrypto's digest runs in the thread pool). */
export async function sha256Of(bytes: Buffer): Promise<string> {
  if (bytes.length < OFF_THREAD_BYTES) return createHash("sha256").update(bytes).digest("hex");
  return Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("hex");
}

/** SHA-256 of a text's UTF-8 bytes, as sha256Of. */
export function sha256OfText(text: string): Promise<string> {
  if (text.length < OFF_THREAD_BYTES / 4)
    return Promise.resolve(createHash("sha256").update(text, "utf8").digest("hex"));
  return sha256Of(Buffer.from(text, "utf8"));
}

const SHA256 = /^[0-9a-fA-F]{64}$/;

/** A SHA-256 a client gives, lowercased; BAD_USER_INPUT when it is not 64 hexadecimal digits. */
export function parseSha256(text: string): string {
  if (!SHA256.test(text)) {
    throw new HandledError(
      ErrorCode.BAD_USER_INPUT,
      "A sha256 is 64 hexadecimal digits (the SHA-256 of the stored bytes).",
    );
  }
  return text.toLowerCase();
}

/** What an integrity failure's log line says: never the value, nor a JSON handle (which is the value). */
export interface IntegrityFailure {
  handler: HandlerType;
  /** The file or object, for handlers whose handle is a place. */
  location?: string;
  /** What did not match. */
  check: "sha256" | "size";
}

/** The error of data that is not what was recorded: RESULT_INTEGRITY, with what to log as its cause. */
export function integrityError(message: string, failure: IntegrityFailure): HandledError {
  return new HandledError(ErrorCode.RESULT_INTEGRITY, message, { cause: { integrity: failure } });
}

/** The failure an integrity error carries, for its log line; undefined for any other error. */
export function integrityFailureOf(error: unknown): IntegrityFailure | undefined {
  if (!(error instanceof HandledError) || error.code !== ErrorCode.RESULT_INTEGRITY) return undefined;
  return (error.cause as { integrity?: IntegrityFailure } | undefined)?.integrity;
}
