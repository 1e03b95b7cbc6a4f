// Which failures mean "PostgreSQL could not be reached or did not answer in time", as opposed
// to a statement PostgreSQL refused. The first kind is retryable and reported to clients as
// DATABASE_UNAVAILABLE; errors come from node-postgres directly or wrapped by Prisma's adapter.

/** SQLSTATEs of lost connections (08), exhausted resources (53), shutdowns (57P) and timeouts. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)|^57014$|^25P03$/;
/** Node's errors for a peer that is gone or does not answer. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
/** Prisma's: cannot reach, timed out, connection closed, pool timed out. */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
/** Kinds of Prisma driver-adapter errors that say the same. */
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
/** node-postgres' own messages when a connection ends or times out on its side. */
const CLIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|^timeout expired$|Query read timeout|not queryable|Connection ended/;

interface ErrorLike {
  code?: unknown;
  kind?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: unknown };
}

/** The error and what it wraps: `cause`, and the adapter error inside a Prisma error. */
function* chain(error: unknown): Generator<ErrorLike> {
  let pending: unknown[] = [error];
  for (let depth = 0; depth < 6 && pending.length > 0; depth++) {
    const next: unknown[] = [];
    for (const item of pending) {
      if (typeof item !== "object" || item === null) continue;
      const e = item as ErrorLike;
      yield e;
      next.push(e.cause, e.meta?.driverAdapterError);
    }
    pending = next;
  }
}

/** Whether a failure means PostgreSQL was unreachable, went away or did not answer in time. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const e of chain(error)) {
    const code = typeof e.code === "string" ? e.code : "";
    if (UNAVAILABLE_SQLSTATE.test(code) || NETWORK_CODES.has(code) || PRISMA_CODES.has(code)) return true;
    if (typeof e.kind === "string" && ADAPTER_KINDS.has(e.kind)) return true;
    if (typeof e.message === "string" && CLIENT_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/** A short description of a database failure for logs: codes only, never statements or values. */
export function describeDatabaseError(error: unknown): string {
  for (const e of chain(error)) {
    if (typeof e.code === "string" && /^[0-9A-Z]{5}$|^E[A-Z]+$/.test(e.code)) return e.code;
    if (typeof e.kind === "string") return e.kind;
  }
  for (const e of chain(error)) if (typeof e.message === "string" && CLIENT_MESSAGES.test(e.message)) return e.message;
  return "unknown";
}
