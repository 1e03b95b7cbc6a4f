import pg from "pg";
import type { Logger } from "../logger.js";
import { describeDatabaseError } from "./errors.js";
import { statement } from "./sql.js";

/** The PostgreSQL channel every replica listens on for what changed. */
export const CHANGES_CHANNEL = "handled_changes";

/**
 * What changed, as one notification carries it: task runs of one flow run that got a new state,
 * or (none named) a flow run that was created. Every replica hears every change, and each gives
 * it only to subscribers of the change's project.
 */
export interface Change {
  projectId: string;
  flowId: string;
  flowRunId: string;
  /** The task runs that got a new state; empty when the flow run was created. */
  taskRunIds: string[];
}

/** Task runs named per notification: 100 UUIDs keep its text well under PostgreSQL's 8000 bytes. */
const TASK_RUNS_PER_NOTICE = 100;

/** The notifications' texts for these changes, one or more per flow run. */
export function noticesOf(changes: readonly Change[]): string[] {
  const notices: string[] = [];
  for (const { projectId, flowId, flowRunId, taskRunIds } of changes) {
    const head = { p: projectId, f: flowId, r: flowRunId };
    if (taskRunIds.length === 0) notices.push(JSON.stringify({ ...head, t: [] }));
    for (let i = 0; i < taskRunIds.length; i += TASK_RUNS_PER_NOTICE) {
      notices.push(JSON.stringify({ ...head, t: taskRunIds.slice(i, i + TASK_RUNS_PER_NOTICE) }));
    }
  }
  return notices;
}

/** A notification's change; undefined for text this service did not write. */
export function changeOf(text: string): Change | undefined {
  try {
    const { p, f, r, t } = JSON.parse(text) as { p?: unknown; f?: unknown; r?: unknown; t?: unknown };
    if (typeof p !== "string" || typeof f !== "string" || typeof r !== "string" || !Array.isArray(t)) return undefined;
    if (!t.every((id): id is string => typeof id === "string")) return undefined;
    return { projectId: p, flowId: f, flowRunId: r, taskRunIds: t };
  } catch {
    return undefined;
  }
}

const NOTIFY = statement("notify-changes", `SELECT pg_notify('${CHANGES_CHANNEL}', n) FROM unnest($1::text[]) AS n`);

/** Announces changes made outside the state batch (which notifies in its own statement). */
export function changeQueries(pool: pg.Pool) {
  return {
    async notify(changes: readonly Change[]): Promise<void> {
      await pool.query({ ...NOTIFY, values: [noticesOf(changes)] });
    },
  };
}

export type ChangeQueries = ReturnType<typeof changeQueries>;

/** Options of a ChangeListener. */
export interface ChangeListenerOptions {
  url: string;
  logger: Logger;
  /** Milliseconds to wait for a connection. */
  connectTimeoutMs: number;
  /** Called with every change heard. */
  onChange: (change: Change) => void;
  /** Called when the listener is connected again after losing its connection (changes made meanwhile were missed). */
  onResumed?: () => void;
}

/**
 * One connection of its own that LISTENs for changes, whichever replica made them, and hands each
 * to `onChange`. A lost connection is logged once and opened again, backing off up to 5 s; changes
 * made meanwhile are not heard, and `onResumed` says so once it listens again.
 */
export class ChangeListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(private readonly options: ChangeListenerOptions) {}

  /** Connects and listens; rejects when the first connection fails (start-up then fails). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const { url, connectTimeoutMs, logger } = this.options;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    client.on("notification", (message) => {
      if (message.channel !== CHANGES_CHANNEL || message.payload === undefined) return;
      const change = changeOf(message.payload);
      if (change) this.options.onChange(change);
    });
    client.on("error", (error) => {
      if (this.client !== client) return;
      this.client = undefined;
      logger.warn(
        { cause: describeDatabaseError(error) },
        "the live-update listener lost its connection; reconnecting",
      );
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    client.on("end", () => {
      if (this.client !== client || this.stopped) return;
      this.client = undefined;
      logger.warn("the live-update listener's connection ended; reconnecting");
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const waitMs = Math.min(250 * 2 ** this.failures, 5000);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().then(
        () => {
          if (this.stopped) return;
          this.options.logger.info("the live-update listener is listening again");
          this.failures = 0;
          this.options.onResumed?.();
        },
        (error: unknown) => {
          this.failures++;
          if (this.failures === 1) {
            this.options.logger.warn(
              { cause: describeDatabaseError(error) },
              "the live-update listener cannot reconnect yet; retrying",
            );
          }
          this.scheduleReconnect();
        },
      );
    }, waitMs);
  }

  /** Whether it is listening now. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
