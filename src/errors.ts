/**
 * The stable codes clients see in `extensions.code`. Each names one way a request fails, so
 * SDKs can branch on it; the message is for people.
 */
export const ErrorCode = {
  /** Malformed input: bad JSON, a missing or invalid field, a handler without its config. */
  BAD_USER_INPUT: "BAD_USER_INPUT",
  /** A flow, flow run, task run or task named in the input does not exist. */
  NOT_FOUND: "NOT_FOUND",
  /** A state change named a version that is not the task run's current one. */
  VERSION_MISMATCH: "VERSION_MISMATCH",
  /** A handle or handler points outside the directories and buckets the server may reach. */
  HANDLE_OUT_OF_BOUNDS: "HANDLE_OUT_OF_BOUNDS",
  /** A value is larger than the server or its handler accepts. */
  VALUE_TOO_LARGE: "VALUE_TOO_LARGE",
  /** The data behind a handle is gone (deleted, never written). */
  RESULT_NOT_FOUND: "RESULT_NOT_FOUND",
  /** The stored data could not be decoded as the JSON it was written as. */
  RESULT_CORRUPT: "RESULT_CORRUPT",
  /**
   * The stored data is not what was recorded: its SHA-256 or size differs (replaced, truncated,
   * altered, swapped with another result's). It is not served.
   */
  RESULT_INTEGRITY: "RESULT_INTEGRITY",
  /**
   * The result is encrypted with a key the server no longer has, or a handler that encrypts has
   * no key to write with (HANDLED_ENCRYPTION_KEYS).
   */
  RESULT_KEY_UNAVAILABLE: "RESULT_KEY_UNAVAILABLE",
  /** The handler could not write a value to its storage. */
  RESULT_WRITE_FAILED: "RESULT_WRITE_FAILED",
  /** The handler could not read a value from its storage (other than it being missing). */
  RESULT_READ_FAILED: "RESULT_READ_FAILED",
  /** A stored result is not handled, so its value is not served. */
  RESULT_NOT_HANDLED: "RESULT_NOT_HANDLED",
  /** The request has read as many bytes or values from storage as one response may hold. */
  RESPONSE_TOO_LARGE: "RESPONSE_TOO_LARGE",
  /** S3 or GCS did not answer in time; nothing was recorded. Retryable. */
  STORE_TIMEOUT: "STORE_TIMEOUT",
  /**
   * PostgreSQL could not be reached or did not answer in time. Retryable; a state change
   * retried with the same idempotency keys is recorded at most once.
   */
  DATABASE_UNAVAILABLE: "DATABASE_UNAVAILABLE",
  /** The query nests fields deeper than HANDLED_MAX_QUERY_DEPTH. */
  QUERY_TOO_DEEP: "QUERY_TOO_DEEP",
  /** The query has more aliases than HANDLED_MAX_ALIASES. */
  TOO_MANY_ALIASES: "TOO_MANY_ALIASES",
  /** The query has more directives than HANDLED_MAX_DIRECTIVES. */
  TOO_MANY_DIRECTIVES: "TOO_MANY_DIRECTIVES",
  /** The query's static cost is over HANDLED_MAX_QUERY_COST. */
  QUERY_TOO_COMPLEX: "QUERY_TOO_COMPLEX",
  /** The document has more tokens than HANDLED_MAX_QUERY_TOKENS; it was not parsed further. */
  QUERY_TOO_LARGE: "QUERY_TOO_LARGE",
  /** No API key, or one that is unknown, revoked or expired (HTTP 401). */
  UNAUTHENTICATED: "UNAUTHENTICATED",
  /** The API key made more requests than HANDLED_RATE_LIMIT_PER_MINUTE (HTTP 429, with Retry-After). */
  RATE_LIMITED: "RATE_LIMITED",
  /** The API key's scope does not allow the operation. */
  FORBIDDEN: "FORBIDDEN",
  /** With trusted documents only, a key without admin sent a document that is not one of the SDK's (HTTP 403). */
  DOCUMENT_NOT_TRUSTED: "DOCUMENT_NOT_TRUSTED",
  /** A `documentId` names none of the SDK's operations, and no query came with it (HTTP 400). */
  DOCUMENT_NOT_FOUND: "DOCUMENT_NOT_FOUND",
  /**
   * An upload or download token that is forged, expired, already used, or for another task run,
   * project or handle (HTTP 403); nothing was written.
   */
  TOKEN_INVALID: "TOKEN_INVALID",
  /** A prepared upload's handle recorded after it expired, or by another task run than it was prepared for. */
  UPLOAD_NOT_PREPARED: "UPLOAD_NOT_PREPARED",
  /** An upload's body is larger than declared or than HANDLED_MAX_UPLOAD_BYTES (HTTP 413); nothing was kept. */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** A download's Range asks for no byte the result has (HTTP 416). */
  RANGE_NOT_SATISFIABLE: "RANGE_NOT_SATISFIABLE",
  /** The operation type (e.g. `subscription`) is not one this API serves. */
  OPERATION_NOT_SUPPORTED: "OPERATION_NOT_SUPPORTED",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A failure with a stable code; its `cause` is kept for logs, never sent to clients. */
export class HandledError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HandledError";
  }
}

/**
 * A reason the service cannot start, said in one line that tells the operator what to fix.
 * The process prints the message (not a stack) and exits non-zero.
 */
export class StartupError extends Error {
  override name = "StartupError";
}
