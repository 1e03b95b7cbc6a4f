import type { ClaimedIntent, DeletedRows, lifecycleQueries } from "../db/lifecycle.js";
import type { Scope } from "../db/rows.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { ANYWHERE, type HandlerRegistry } from "../results/handler-registry.js";
import { type HandlerType, specFromRow } from "../results/handler-spec.js";
import { isUuid } from "./ids.js";
import type { ReachService } from "./reach.js";

/** What a deletion removed. */
export interface Deletion {
  flows: number;
  flowRuns: number;
  results: number;
  /** Stored objects deleted. */
  objectsDeleted: number;
  /** Objects whose deletion failed, left to the sweeper (see sweep). */
  objectsPending: number;
}

/** What a sweep did, by handler type. */
export interface SweepReport {
  deleted: Partial<Record<HandlerType, { objects: number; bytes: number }>>;
  /** Objects left in place: a result points at them again, or they are outside the server's reach. */
  kept: number;
  /** Deletions that failed; their intents stay for the next sweep. */
  failed: number;
}

/** Counts one object deleted (or to delete) in a report. */
export function countDeleted(report: SweepReport, intent: Pick<ClaimedIntent, "handlerType" | "sizeBytes">): void {
  const entry = report.deleted[intent.handlerType] ?? { objects: 0, bytes: 0 };
  report.deleted[intent.handlerType] = { objects: entry.objects + 1, bytes: entry.bytes + (intent.sizeBytes ?? 0) };
}

export interface LifecycleServiceDeps {
  queries: ReturnType<typeof lifecycleQueries>;
  registry: HandlerRegistry;
  /** Where each project's handlers may go: an object outside is never deleted. */
  reach: Pick<ReachService, "of">;
  logger: Logger;
  metrics?: Pick<Metrics, "reclaimedObjects" | "reclaimedBytes">;
}

/** Intents settled per transaction of a sweep. */
const SWEEP_BATCH = 100;

/**
 * Deletes flows and runs with the objects their results point at, and sweeps what a deletion
 * could not finish. The rows go first, in one transaction that also records an intent for each
 * object to delete; the objects go after, each intent removed once its object is gone.
 */
export class LifecycleService {
  constructor(private readonly deps: LifecycleServiceDeps) {}

  /**
   * Deletes a flow run of the caller's project, its task runs, states and results, and the
   * objects no remaining result points at. Throws NOT_FOUND for a run the caller does not have.
   */
  async deleteFlowRun(scope: Scope, id: string): Promise<Deletion> {
    const rows = isUuid(id) ? await this.deps.queries.deleteFlowRun(scope, id) : null;
    if (!rows) throw new HandledError(ErrorCode.NOT_FOUND, `No flow run has the id "${id}".`);
    return this.finish(rows);
  }

  /**
   * Deletes a run as deleteFlowRun does, if it is still past its retention once its task runs
   * are locked (see RetentionService). Null when it is not (a state came since), or is gone.
   */
  async deleteExpiredRun(scope: Scope, id: string, defaultDays: number | null): Promise<Deletion | null> {
    const rows = await this.deps.queries.deleteFlowRun(scope, id, { onlyIfExpired: { defaultDays } });
    return rows && this.finish(rows);
  }

  /** As deleteFlowRun, for a flow and every run of it. Throws NOT_FOUND for a flow the caller does not have. */
  async deleteFlow(scope: Scope, id: string): Promise<Deletion> {
    const rows = isUuid(id) ? await this.deps.queries.deleteFlow(scope, id) : null;
    if (!rows) throw new HandledError(ErrorCode.NOT_FOUND, `No flow has the id "${id}".`);
    return this.finish(rows);
  }

  /**
   * Settles the intents at least `olderThanSeconds` old (only `ids`, when given), a batch at a
   * time, until none is left that another sweeper has not claimed: deletes each object that no
   * result points at and that is within reach. Safe with many sweepers at once.
   */
  async sweep(options: { ids?: string[]; olderThanSeconds: number }): Promise<SweepReport> {
    const report: SweepReport = { deleted: {}, kept: 0, failed: 0 };
    // Intents that failed in this sweep are not tried again in it.
    const failed: string[] = [];
    for (;;) {
      const claimed = await this.deps.queries.sweepIntents(
        { ids: options.ids, exclude: failed, olderThanSeconds: options.olderThanSeconds, limit: SWEEP_BATCH },
        async (intent) => {
          try {
            await this.settle(intent, report);
          } catch (error) {
            failed.push(intent.id);
            report.failed++;
            throw error;
          }
        },
      );
      if (claimed < SWEEP_BATCH) return report;
    }
  }

  private async finish(rows: DeletedRows): Promise<Deletion> {
    const { flows, flowRuns, results, intents } = rows;
    const report = intents.length ? await this.sweep({ ids: intents.map((i) => i.id), olderThanSeconds: 0 }) : null;
    const objectsDeleted = Object.values(report?.deleted ?? {}).reduce((sum, d) => sum + d.objects, 0);
    return { flows, flowRuns, results, objectsDeleted, objectsPending: report?.failed ?? 0 };
  }

  /** Deletes one intent's object, or keeps it; throws (after logging) when storage fails. */
  private async settle(intent: ClaimedIntent, report: SweepReport): Promise<void> {
    const { logger, registry, reach, metrics } = this.deps;
    const where = { handler: intent.handlerType, location: intent.handle, project: intent.projectId ?? undefined };
    if (intent.referenced) {
      logger.info(where, "stored object kept: a result points at it again");
      report.kept++;
      return;
    }
    try {
      const spec = specFromRow(intent.handlerType, intent.handlerConfig);
      const bounds = intent.projectId ? await reach.of({ projectId: intent.projectId }) : ANYWHERE;
      const handler = await registry.handlerFor(spec, bounds);
      await handler.delete?.(intent.handle);
    } catch (error) {
      if (error instanceof HandledError && error.code === ErrorCode.HANDLE_OUT_OF_BOUNDS) {
        // A client's object outside what the server (or the project) may reach is the client's.
        logger.info(where, "stored object kept: outside this server's reach");
        report.kept++;
        return;
      }
      const code = error instanceof HandledError ? error.code : "UNEXPECTED";
      logger.error({ ...where, code }, "deleting a stored object failed; the next sweep tries again");
      throw error;
    }
    logger.info(where, "stored object deleted");
    countDeleted(report, intent);
    metrics?.reclaimedObjects.inc({ handler: intent.handlerType });
    metrics?.reclaimedBytes.inc({ handler: intent.handlerType }, intent.sizeBytes ?? 0);
  }
}
