import { randomUUID } from "node:crypto";
import { ErrorCode, HandledError } from "../errors.js";
import type { Prisma, PrismaClient, StateType, TaskRun } from "../generated/prisma/client.js";
import { handlerConfigOf, type HandlerSpec } from "../results/handler-spec.js";
import { resolveResultHandler } from "../results/resolve-handler.js";
import type { EncodedValue, ResultStore, StoredHandle } from "../results/result-store.js";
import { isUuid } from "./ids.js";

/** A state's result: a raw `value` (null included) or a result the client already handled. */
export interface ResultInput {
  value?: unknown;
  handled?: { handler: unknown; handle: string } | null;
}

/** A cached input: a reference to an upstream task run's result, or a value of it. */
export interface CachedInputInput {
  name: string;
  upstreamTaskRunId: string;
  value?: unknown;
}

/** One entry of a batch: the new state of one task run, at the version it was read at. */
export interface StateChange {
  taskRunId: string;
  version: number;
  state: {
    type: StateType;
    message?: string | null;
    result?: ResultInput | null;
    cachedInputs?: readonly CachedInputInput[] | null;
  };
}

export interface StateServiceDeps {
  prisma: PrismaClient;
  results: ResultStore;
  defaultHandler: HandlerSpec;
  /** Most entries one call may carry. */
  maxBatch: number;
}

const taskRunWithHandlers = {
  include: { task: { include: { flow: true } }, states: { where: { resultId: { not: null } }, orderBy: { version: "desc" }, take: 1 } },
} as const satisfies Prisma.TaskRunDefaultArgs;
type LoadedTaskRun = Prisma.TaskRunGetPayload<typeof taskRunWithHandlers>;

/**
 * A result row this call creates. Its id is chosen before anything is written, so a cached
 * input of another entry in the same batch can refer to it.
 */
interface NewResult {
  id: string;
  /** Already handled by the client, or a value still to write. */
  source: { stored: StoredHandle } | { spec: HandlerSpec; value: EncodedValue };
}

/** What one entry will store. */
interface Plan {
  change: StateChange;
  stateId: string;
  result?: NewResult;
  cachedInputs: { name: string; upstreamTaskRunId: string; resultId: string }[];
}

/** Long enough for the largest batch; the writes to storage happen before it starts. */
const TRANSACTION_TIMEOUT_MS = 30_000;

function has(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function badInput(message: string): HandledError {
  return new HandledError(ErrorCode.BAD_USER_INPUT, message);
}

/**
 * Task-run states: setting them in batches, all or nothing. Values are written through the
 * resolved handler before the transaction, and only their handles are stored in it.
 */
export class StateService {
  constructor(private readonly deps: StateServiceDeps) {}

  /**
   * Sets the state of each task run named in `changes`. Nothing is recorded unless every
   * entry succeeds: a stale version (VERSION_MISMATCH), an unknown task run (NOT_FOUND), bad
   * input (BAD_USER_INPUT, VALUE_TOO_LARGE), a handle or handler out of bounds, or a failed
   * write (RESULT_WRITE_FAILED) leaves every task run as it was and removes what was written.
   * Returns the task runs in the order given.
   */
  async setTaskRunStates(changes: readonly StateChange[]): Promise<TaskRun[]> {
    if (changes.length === 0) throw badInput("Give at least one state change.");
    if (changes.length > this.deps.maxBatch) {
      throw badInput(`One call may set at most ${this.deps.maxBatch} states; this one has ${changes.length}.`);
    }
    const runs = await this.loadTaskRuns(changes.map((c) => c.taskRunId));
    for (const change of changes) {
      const run = runs.get(change.taskRunId)!;
      // Checked before anything is written, and again inside the transaction.
      if (run.version !== change.version) throw versionMismatch(change.taskRunId, change.version, run.version);
    }
    const upstreamIds = changes.flatMap((c) => (c.state.cachedInputs ?? []).map((i) => i.upstreamTaskRunId));
    const upstream = await this.loadTaskRuns(upstreamIds, { allowRepeats: true });
    const plans = await Promise.all(changes.map((change) => this.planResult(change, runs.get(change.taskRunId)!)));
    const batchResults = new Map(plans.flatMap((plan) => (plan.result ? [[plan.change.taskRunId, plan.result.id] as const] : [])));
    const newResults = plans.flatMap((plan) => (plan.result ? [plan.result] : []));
    for (const plan of plans) {
      newResults.push(...this.planCachedInputs(plan, runs.get(plan.change.taskRunId)!, upstream, batchResults));
    }

    const written: StoredHandle[] = [];
    try {
      // One write at a time: when one fails, none is still under way, so `written` is all
      // there is to remove.
      const rows: Prisma.ResultCreateManyInput[] = [];
      for (const { id, source } of newResults) {
        let stored: StoredHandle;
        if ("stored" in source) {
          stored = source.stored;
        } else {
          stored = await this.deps.results.write(source.spec, source.value);
          written.push(stored);
        }
        rows.push({ id, handlerType: stored.spec.type, handlerConfig: handlerConfigOf(stored.spec), handle: stored.handle, handled: true });
      }
      return await this.deps.prisma.$transaction(
        async (tx) => {
          // One statement moves every task run of the batch on, each only from the version given.
          const ids = plans.map(({ change }) => change.taskRunId);
          const versions = plans.map(({ change }) => change.version);
          const bumped = await tx.$queryRaw<{ id: string }[]>`
            UPDATE task_run AS t SET version = t.version + 1
            FROM unnest(${ids}::uuid[], ${versions}::int[]) AS given(id, version)
            WHERE t.id = given.id AND t.version = given.version
            RETURNING t.id::text AS id`;
          if (bumped.length !== plans.length) {
            const moved = new Set(bumped.map((row) => row.id));
            const stale = plans.find(({ change }) => !moved.has(change.taskRunId))!.change;
            const current = await tx.taskRun.findUnique({ where: { id: stale.taskRunId } });
            throw versionMismatch(stale.taskRunId, stale.version, current?.version);
          }
          await tx.result.createMany({ data: rows });
          await tx.state.createMany({
            data: plans.map(({ change, stateId, result }) => ({
              id: stateId,
              taskRunId: change.taskRunId,
              version: change.version + 1,
              type: change.state.type,
              message: change.state.message ?? null,
              resultId: result?.id ?? null,
            })),
          });
          await tx.cachedInput.createMany({
            data: plans.flatMap(({ stateId, cachedInputs }) => cachedInputs.map((input) => ({ stateId, ...input }))),
          });
          return plans.map(({ change }) => {
            const { id, flowRunId, taskId } = runs.get(change.taskRunId)!;
            return { id, flowRunId, taskId, version: change.version + 1 };
          });
        },
        { timeout: TRANSACTION_TIMEOUT_MS },
      );
    } catch (error) {
      await this.deps.results.discard(written);
      throw error;
    }
  }

  /** Checks an entry's own result and works out what it will store; writes nothing. */
  private async planResult(change: StateChange, run: LoadedTaskRun): Promise<Plan> {
    const { results, defaultHandler } = this.deps;
    const plan: Plan = { change, stateId: randomUUID(), cachedInputs: [] };
    const result = change.state.result;
    if (result) {
      const hasValue = has(result, "value");
      const hasHandled = result.handled !== undefined && result.handled !== null;
      if (hasValue === hasHandled) {
        throw badInput(
          `The result for task run ${change.taskRunId} must give exactly one of "value" or "handled" (omit "result" for no result).`,
        );
      }
      plan.result = {
        id: randomUUID(),
        source: result.handled
          ? { stored: await results.verifyHandled(result.handled.handler, result.handled.handle) }
          : { spec: resolveResultHandler(run.task, run.task.flow, defaultHandler), value: results.encode(result.value) },
      };
    }
    return plan;
  }

  /**
   * Checks an entry's cached inputs and fills them into its plan. A reference takes the
   * upstream task run's result from this batch if it gets one, else its latest stored one; a
   * value is written with the upstream task's handler. Returns the results to create.
   */
  private planCachedInputs(
    plan: Plan,
    run: LoadedTaskRun,
    upstream: Map<string, LoadedTaskRun>,
    batchResults: Map<string, string>,
  ): NewResult[] {
    const { results, defaultHandler } = this.deps;
    const created: NewResult[] = [];
    const names = new Set<string>();
    for (const input of plan.change.state.cachedInputs ?? []) {
      if (!input.name.trim()) throw badInput("A cached input needs a name.");
      if (names.has(input.name)) throw badInput(`The cached input "${input.name}" is given twice.`);
      names.add(input.name);
      const source = upstream.get(input.upstreamTaskRunId)!;
      if (source.flowRunId !== run.flowRunId) {
        throw badInput(`The upstream task run ${input.upstreamTaskRunId} is not part of the same flow run.`);
      }
      let resultId: string | undefined;
      if (has(input, "value")) {
        // Handlers belong to outputs: the input is written with the upstream task's handler.
        const spec = resolveResultHandler(source.task, source.task.flow, defaultHandler);
        const result: NewResult = { id: randomUUID(), source: { spec, value: results.encode(input.value) } };
        created.push(result);
        resultId = result.id;
      } else {
        resultId = batchResults.get(source.id) ?? source.states[0]?.resultId ?? undefined;
        if (!resultId) {
          throw badInput(
            `The upstream task run ${input.upstreamTaskRunId} has no result to cache as "${input.name}"; give its value instead.`,
          );
        }
      }
      plan.cachedInputs.push({ name: input.name, upstreamTaskRunId: input.upstreamTaskRunId, resultId });
    }
    return created;
  }

  private async loadTaskRuns(ids: readonly string[], options: { allowRepeats?: boolean } = {}) {
    const unique = [...new Set(ids)];
    if (!options.allowRepeats && unique.length !== ids.length) {
      throw badInput("Each task run may appear only once in a batch.");
    }
    if (unique.length === 0) return new Map<string, LoadedTaskRun>();
    const bad = unique.find((id) => !isUuid(id));
    if (bad) throw new HandledError(ErrorCode.NOT_FOUND, `No task run has the id "${bad}".`);
    const rows = await this.deps.prisma.taskRun.findMany({ where: { id: { in: unique } }, ...taskRunWithHandlers });
    const byId = new Map(rows.map((row) => [row.id, row]));
    const missing = unique.find((id) => !byId.has(id));
    if (missing) throw new HandledError(ErrorCode.NOT_FOUND, `No task run has the id "${missing}".`);
    return byId;
  }
}

function versionMismatch(taskRunId: string, given: number, current: number | undefined): HandledError {
  return new HandledError(
    ErrorCode.VERSION_MISMATCH,
    `Task run ${taskRunId} is at version ${current ?? "unknown"}, not ${given}: read it again and retry.`,
  );
}
