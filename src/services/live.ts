import type { Change } from "../db/changes.js";
import type { Scope } from "../db/rows.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Logger } from "../logger.js";

/** Given to a subscriber instead of an id when its API key stopped working: its last event. */
export const KEY_REVOKED: unique symbol = Symbol("key revoked");

/** What a subscription's iterator yields: the id of what changed, or that its key no longer works. */
export type LiveEvent = string | typeof KEY_REVOKED;

/** Where changes come from: every replica's, heard over PostgreSQL's LISTEN. */
export interface ChangeSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether it is listening now (false while it reconnects). */
  readonly listening: boolean;
}

export interface LiveUpdatesOptions {
  /**
   * Makes the source, which calls `onChange` with every change any replica makes, and `onResumed`
   * when it listens again after losing its connection (changes made meanwhile were not heard).
   */
  source: (onChange: (change: Change) => void, onResumed: () => void) => ChangeSource;
  /** Subscriptions this replica serves at once; more are refused (RATE_LIMITED). */
  maxSubscriptions: number;
  logger: Logger;
}

/** Ids a slow subscriber may have waiting; past it, further ones are dropped (and logged once). */
const MAX_PENDING = 10_000;

/**
 * One subscription: the ids it has yet to be given, coalesced (a task run that changes twice
 * before its subscriber reads is given once, and read as it is then), so a slow reader holds at
 * most one entry per task run or flow run.
 */
class Subscription implements AsyncIterableIterator<LiveEvent> {
  private readonly pending = new Set<string>();
  private wake: (() => void) | undefined;
  private ended = false;
  private dropped = false;

  constructor(
    readonly projectId: string,
    /** The ids of `change` this subscription wants, if any. */
    readonly pick: (change: Change) => readonly string[],
    private readonly stillAllowed: (() => Promise<boolean>) | undefined,
    private readonly onEnd: (subscription: Subscription) => void,
    private readonly logger: Logger,
  ) {}

  offer(change: Change): void {
    if (this.ended || change.projectId !== this.projectId) return;
    for (const id of this.pick(change)) {
      if (this.pending.size >= MAX_PENDING && !this.pending.has(id)) {
        if (!this.dropped) this.logger.warn({ pending: MAX_PENDING }, "a subscriber is too slow; changes were dropped");
        this.dropped = true;
        break;
      }
      this.pending.add(id);
    }
    this.wake?.();
  }

  async next(): Promise<IteratorResult<LiveEvent>> {
    while (!this.ended && this.pending.size === 0) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    if (this.ended) return { done: true, value: undefined };
    const [id] = this.pending;
    this.pending.delete(id!);
    if (this.stillAllowed && !(await this.stillAllowed())) {
      this.end();
      return { done: false, value: KEY_REVOKED };
    }
    return { done: false, value: id! };
  }

  async return(): Promise<IteratorResult<LiveEvent>> {
    this.end();
    return { done: true, value: undefined };
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.pending.clear();
    this.onEnd(this);
    this.wake?.();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * Live updates: what every replica's writes change, given to the subscribers of this replica
 * whose project it is. One listening connection per replica, whatever the number of subscribers.
 */
export class LiveUpdates {
  private readonly subscriptions = new Set<Subscription>();
  private readonly resumeListeners = new Set<() => void>();
  private source: ChangeSource | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly options: LiveUpdatesOptions) {}

  /** Starts listening; rejects when the first connection fails. Subscribing starts it too. */
  start(): Promise<void> {
    if (!this.starting) {
      const source = this.options.source(
        (change) => {
          for (const subscription of this.subscriptions) subscription.offer(change);
        },
        () => {
          for (const listener of this.resumeListeners) listener();
        },
      );
      this.source = source;
      this.starting = source.start().catch((error: unknown) => {
        this.starting = undefined;
        this.source = undefined;
        throw error;
      });
    }
    return this.starting;
  }

  /** Ends every subscription (their streams complete) and stops listening. */
  async stop(): Promise<void> {
    for (const subscription of [...this.subscriptions]) subscription.end();
    const source = this.source;
    this.source = undefined;
    this.starting = undefined;
    await source?.stop();
  }

  /**
   * Calls `listener` when changes may have been missed (the listening connection was lost, and
   * is back): what was sent since is not the whole story, and subscribers should read again.
   */
  onResume(listener: () => void): void {
    this.resumeListeners.add(listener);
  }

  /** How many subscriptions this replica serves now. */
  get size(): number {
    return this.subscriptions.size;
  }

  /** Whether changes of every replica reach this one now. */
  get listening(): boolean {
    return this.source?.listening ?? false;
  }

  /** The ids of the flow run's task runs as they get new states. */
  taskRuns(scope: Scope, flowRunId: string, stillAllowed?: () => Promise<boolean>): Promise<Subscription> {
    return this.subscribe(scope, (change) => (change.flowRunId === flowRunId ? change.taskRunIds : []), stillAllowed);
  }

  /** The ids of the project's flow runs (only the flow's, with `flowId`) as they are created or their task runs change. */
  flowRuns(scope: Scope, flowId: string | null, stillAllowed?: () => Promise<boolean>): Promise<Subscription> {
    return this.subscribe(
      scope,
      (change) => (flowId === null || change.flowId === flowId ? [change.flowRunId] : []),
      stillAllowed,
    );
  }

  private async subscribe(
    { projectId }: Scope,
    pick: (change: Change) => readonly string[],
    stillAllowed: (() => Promise<boolean>) | undefined,
  ): Promise<Subscription> {
    const { maxSubscriptions, logger } = this.options;
    if (this.subscriptions.size >= maxSubscriptions) {
      throw new HandledError(
        ErrorCode.RATE_LIMITED,
        `This server serves at most ${maxSubscriptions} subscriptions at once (HANDLED_MAX_SUBSCRIPTIONS); retry later.`,
      );
    }
    await this.start();
    const subscription = new Subscription(
      projectId,
      pick,
      stillAllowed,
      (ended) => this.subscriptions.delete(ended),
      logger,
    );
    this.subscriptions.add(subscription);
    return subscription;
  }
}
