import { setTimeout as sleep } from "node:timers/promises";
import type { LifecycleQueries } from "../db/lifecycle.js";
import type { Logger } from "../logger.js";
import type { LifecycleService } from "./lifecycle.js";

/** How long runs are kept, and how fast old ones are deleted. */
export interface RetentionOptions {
  /** Days a run is kept after it ended, for flows that do not say (HANDLED_RETENTION_DAYS); none: forever. */
  defaultDays: number | undefined;
  /** Runs one pass deletes at most; the next pass goes on. */
  batchSize: number;
  /** Pause between two runs' deletions, so a pass never floods the database or the stores. */
  pauseMs: number;
}

export interface RetentionDeps {
  queries: Pick<LifecycleQueries, "expiredRuns" | "withRetentionLock">;
  lifecycle: Pick<LifecycleService, "deleteExpiredRun">;
  logger: Logger;
  options: RetentionOptions;
}

/** What one pass did: null when another replica held the pass. */
export interface RetentionPass {
  deletedRuns: number;
  deletedObjects: number;
  pendingObjects: number;
}

/**
 * Deletes runs that ended longer ago than their flow's `retentionDays` (or the server's), a
 * batch per pass. One replica at a time runs a pass (a PostgreSQL advisory lock); each run is
 * deleted in a transaction of its own (deleteFlowRun), so a pass cut by a crash has lost nothing
 * and the next one takes up where it stopped.
 */
export class RetentionService {
  constructor(private readonly deps: RetentionDeps) {}

  /** One pass; null when another replica is running one. */
  async pass(): Promise<RetentionPass | null> {
    const { queries, lifecycle, logger, options } = this.deps;
    const done = await queries.withRetentionLock(async () => {
      const expired = await queries.expiredRuns(options.defaultDays ?? null, options.batchSize);
      const tally: RetentionPass = { deletedRuns: 0, deletedObjects: 0, pendingObjects: 0 };
      for (const [i, run] of expired.entries()) {
        if (i > 0) await sleep(options.pauseMs);
        // Null: deleted meanwhile (by a client), or a state came since it was found.
        const deletion = await lifecycle.deleteExpiredRun(
          { projectId: run.projectId },
          run.id,
          options.defaultDays ?? null,
        );
        if (!deletion) continue;
        tally.deletedRuns += deletion.flowRuns;
        tally.deletedObjects += deletion.objectsDeleted;
        tally.pendingObjects += deletion.objectsPending;
      }
      if (tally.deletedRuns > 0) logger.info({ ...tally }, "retention deleted runs past their time");
      return tally;
    });
    if (done === null) logger.debug("retention pass skipped: another replica is running one");
    return done;
  }
}
