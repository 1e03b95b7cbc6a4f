import { AsyncLocalStorage } from "node:async_hooks";
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./config/config.js";

export type { Logger };

/** Options of the service's logger. */
export interface LoggerOptions {
  level: LogLevel;
  /** Readable lines instead of JSON (a person at a terminal); JSON lines otherwise. */
  pretty?: boolean;
  /** Where lines go; standard output when absent. */
  destination?: NodeJS.WritableStream;
}

/**
 * Anything that could carry a credential is censored wherever it appears in a line's object:
 * the service logs no headers or values itself, this is the net under that rule.
 */
const REDACTED = ["*.authorization", "*.cookie", "*.password", "*.secretAccessKey", "*.headers.authorization", "*.headers.cookie"];

/**
 * The service's pino logger: JSON lines by default, one object per line, for a log collector;
 * with `pretty`, the same lines made readable. Lines are written synchronously so that the
 * last ones before an exit are not lost.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination =
    options.pretty === true
      ? pretty({ sync: true, colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", destination: options.destination ?? 1 })
      : (options.destination ?? pino.destination({ dest: 1, sync: true }));
  return pino({ level: options.level, base: { service: "handled" }, redact: { paths: REDACTED, censor: "[redacted]" } }, destination);
}

/** A logger that writes nothing, for code run outside the service (tests of parts, tools). */
export const silentLogger: Logger = pino({ level: "silent" });

/** The logger of the request being served (its lines carry the request id), where there is one. */
const requestLoggers = new AsyncLocalStorage<Logger>();

/** Runs `work` with `logger` as the request's logger: see `loggerOf`. */
export function withRequestLogger<T>(logger: Logger, work: () => T): T {
  return requestLoggers.run(logger, work);
}

/** The current request's logger, or `fallback` outside requests (start-up, timers). */
export function loggerOf(fallback: Logger): Logger {
  return requestLoggers.getStore() ?? fallback;
}
