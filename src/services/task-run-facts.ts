import { LRUCache } from "lru-cache";
import type { Scope } from "../db/rows.js";
import type { TaskRunForChange } from "../db/states.js";

/** What never changes about a task run once made: where it belongs, and its task's and flow's handlers. */
export type TaskRunFacts = Pick<TaskRunForChange, "id" | "flowRunId" | "flowId" | "taskId" | "task" | "flow">;

/**
 * The fixed facts of task runs a state batch has loaded, per project, most recently used kept.
 * Only what cannot change is kept: a task run's flow run, task and flow, and their handlers
 * (no mutation changes them). Its version, its states and whether it still exists are never
 * taken from here: the statement that records a batch checks them. Lets a batch whose values
 * all stay in the database skip the statement that loads its task runs.
 */
export class TaskRunFactsCache {
  private readonly cache: LRUCache<string, TaskRunFacts> | undefined;

  /** `size`: most task runs kept; 0 keeps none. */
  constructor(size: number) {
    this.cache = size > 0 ? new LRUCache({ max: size }) : undefined;
  }

  /** The facts of every one of `ids` in the scope's project, or undefined when one is not known. */
  all({ projectId }: Scope, ids: readonly string[]): Map<string, TaskRunFacts> | undefined {
    if (!this.cache) return undefined;
    const found = new Map<string, TaskRunFacts>();
    for (const id of ids) {
      const facts = this.cache.get(`${projectId} ${id}`);
      if (!facts) return undefined;
      found.set(id, facts);
    }
    return found;
  }

  /** Keeps the facts of task runs loaded in the scope's project. */
  remember({ projectId }: Scope, loaded: Iterable<TaskRunForChange>): void {
    if (!this.cache) return;
    for (const { id, flowRunId, flowId, taskId, task, flow } of loaded) {
      this.cache.set(`${projectId} ${id}`, { id, flowRunId, flowId, taskId, task, flow });
    }
  }

  /** Drops a task run found gone. */
  forget({ projectId }: Scope, id: string): void {
    this.cache?.delete(`${projectId} ${id}`);
  }
}
