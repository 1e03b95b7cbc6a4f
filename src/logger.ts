import { type Logger, pino } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of the service's logger. */
export interface LoggerOptions {
  level: LogLevel;
  /** Readable lines instead of JSON (a person at a terminal); JSON lines otherwise. */
  pretty?: boolean;
  /** Where lines go; standard output when absent. */
  destination?: pino.DestinationStream;
}

/** Standard output as the logger writes to it: in blocks, flushed on a timer and at exit (flushLogs). */
let stdout: ReturnType<typeof pino.destination> | undefined;
/** Lines are written once this many bytes are pending (one system call for many requests)... */
const BUFFER_BYTES = 8192;
/** ...or at the latest this long after they were logged. */
const FLUSH_INTERVAL_MS = 250;

/**
 * The service's pino logger: JSON lines by default, one object per line, for a log collector;
 * with `pretty`, the same lines made readable. Standard output is written in blocks of 8 KiB, or
 * every 250 ms when fewer lines come, so that a busy service makes one system call for many
 * lines; flushLogs() writes what is pending before an exit.
 */
export function createLogger(options: LoggerOptions): Logger {
  let destination: pino.DestinationStream | undefined = options.destination;
  if (!destination && options.pretty === true) {
    destination = pretty({ sync: true, colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" });
  }
  if (!destination) {
    if (!stdout) {
      stdout = pino.destination({ dest: 1, sync: true, minLength: BUFFER_BYTES });
      setInterval(() => flushLogs(), FLUSH_INTERVAL_MS).unref();
    }
    destination = stdout;
  }
  // No redaction paths: the service never hands a logger headers, bodies, values or credentials
  // (test/ops/logs.test.ts checks a real run's lines), and pino's wildcard redaction would cost
  // every line.
  return pino({ level: options.level, base: { service: "handled" } }, destination);
}

/** Writes the log lines still pending to standard output; call it before process.exit. */
export function flushLogs(): void {
  try {
    stdout?.flushSync();
  } catch {
    // Nothing more can be said: standard output is gone.
  }
}

/** A logger that writes nothing, for code run outside the service (tests of parts, tools). */
export const silentLogger: Logger = pino({ level: "silent" });
