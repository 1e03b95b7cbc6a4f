import { setTimeout as sleep } from "node:timers/promises";
import type { InputLimits } from "../config/config.js";
import { type Change, noticesOf } from "../db/changes.js";
import { describeDatabaseError, isDatabaseUnavailable } from "../db/errors.js";
import type { LifecycleQueries, PreparedIntent, StaleTaskRun, WriteIntent } from "../db/lifecycle.js";
import type { Scope, StateType, TaskRunRow } from "../db/rows.js";
import type {
  BatchCommitOutcome,
  KeyedChange,
  RecordOutcome,
  StateBatch,
  StateQueries,
  TaskRunForChange,
} from "../db/states.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Logger } from "../logger.js";
import { withoutPolicy } from "../results/handler-definition.js";
import type { Reach } from "../results/handler-registry.js";
import { type HandlerSpec, handlerConfigOf, parseHandlerSpec } from "../results/handler-spec.js";
import { resolveResultHandler } from "../results/resolve-handler.js";
import type { EncodedValue, ResultStore, StoredHandle } from "../results/result-store.js";
import { checkText } from "../validation.js";
import { isUuid, newRowId } from "./ids.js";
import type { ReachService } from "./reach.js";
import type { TaskRunFactsCache } from "./task-run-facts.js";
import { preparedResult } from "./transfers.js";

/** A state's result: a raw `value` (null included) or a result the client already handled. */
export interface ResultInput {
  value?: unknown;
  handled?: { handler: unknown; handle: string; sha256?: string | null; sizeBytes?: number | null } | null;
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
  /** Makes a retry of the same change answer with what was recorded (see SetTaskRunStateInput). */
  idempotencyKey?: string | null;
  state: {
    type: StateType;
    message?: string | null;
    result?: ResultInput | null;
    cachedInputs?: readonly CachedInputInput[] | null;
  };
}

export interface StateServiceDeps {
  /**
   * A batch is recorded by one statement (db/states), after one that loads its task runs unless
   * `facts` knows them; a batch that writes objects records their intents in between, in a
   * statement that checks the versions when the batch did not load.
   */
  queries: Pick<StateQueries, "loadTaskRunsForChange" | "recordStateBatch" | "resolveBatchCommit">;
  /**
   * Write intents: recorded before objects are written, removed with the batch (db/lifecycle).
   * A batch of task runs known in `facts` is not loaded: its intents are recorded only if its
   * versions are current, so that a stale batch still writes nothing.
   */
  intents: Pick<LifecycleQueries, "recordBatchIntent" | "settleBatchIntent" | "preparedUploads">;
  results: ResultStore;
  /** Where each project's handlers may go. */
  reach: Pick<ReachService, "of">;
  /** What never changes about task runs loaded before: lets a batch of inline values skip loading them. */
  facts: TaskRunFactsCache;
  defaultHandler: HandlerSpec;
  limits: Pick<InputLimits, "maxBatchSize" | "maxNameLength" | "maxMessageLength" | "maxHandleLength">;
  logger: Logger;
}

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
  /** The intent of the prepared upload its result records, removed with the batch. */
  preparedIntentId?: string;
  cachedInputs: { id: string; name: string; upstreamTaskRunId: string; resultId: string }[];
}

/** The objects a batch writes outside the database, and the id of their intent once recorded. */
interface BatchIntent {
  id?: string;
  objects: WriteIntent[];
}

/** Whether two handler specs name the same place (their write policies aside). */
function sameHandler(a: HandlerSpec, b: HandlerSpec): boolean {
  const canonical = (spec: HandlerSpec) => {
    const config = handlerConfigOf(withoutPolicy(spec) as HandlerSpec);
    return JSON.stringify([
      spec.type,
      Object.keys(config)
        .sort()
        .map((key) => [key, config[key]]),
    ]);
  };
  return canonical(a) === canonical(b);
}

function has(object: object, key: string): boolean {
  return Object.hasOwn(object, key);
}

function badInput(message: string): HandledError {
  return new HandledError(ErrorCode.BAD_USER_INPUT, message);
}

/**
 * Task-run states: setting them in batches, all or nothing. Values are written through the
 * resolved handler before the batch is recorded, and only their handles are stored.
 */
export class StateService {
  constructor(private readonly deps: StateServiceDeps) {}

  /**
   * Sets the state of each task run named in `changes`. Nothing is recorded unless every
   * entry succeeds: a stale version (VERSION_MISMATCH), an unknown task run (NOT_FOUND), bad
   * input (BAD_USER_INPUT, VALUE_TOO_LARGE), a handle or handler out of bounds, or a failed
   * write (RESULT_WRITE_FAILED, STORE_TIMEOUT) leaves every task run as it was and removes what
   * was written. A batch whose every entry was already recorded with the same idempotency keys
   * answers with what was recorded and writes nothing. When the database fails while the batch
   * commits, its outcome is learnt before anything is removed (see recordOrResolve). Returns
   * the task runs in the order given.
   */
  async setTaskRunStates(scope: Scope, changes: readonly StateChange[]): Promise<TaskRunRow[]> {
    this.checkBatch(changes);
    const ids = changes.map((c) => c.taskRunId);
    const keyed = keyedChanges(changes);
    const upstreamIds = changes.flatMap((c) => (c.state.cachedInputs ?? []).map((i) => i.upstreamTaskRunId));
    // One statement loads the batch's task runs, the upstream ones its cached inputs name, and
    // the states already recorded with its idempotency keys; none for a batch of values for task
    // runs loaded before (see knownBatch), whose versions are checked before anything is written.
    const known = this.knownBatch(scope, changes, keyed, upstreamIds);
    const loaded = known ?? (await this.loadTaskRuns(scope, [...ids, ...upstreamIds], upstreamIds, keyed));
    const replay = replayOf(changes, loaded);
    if (replay) return replay;
    const reach = await this.deps.reach.of(scope);
    for (const change of changes) {
      const run = loaded.get(change.taskRunId)!;
      // Checked before anything is written, and again when the batch is recorded.
      if (run.version !== change.version) throw versionMismatch(change.taskRunId, change.version, run.version);
    }
    const prepared = await this.preparedUploadsOf(changes);
    const plans = await Promise.all(
      changes.map((change) => this.planResult(scope, change, loaded.get(change.taskRunId)!, reach, prepared)),
    );
    const batchResults = new Map(
      plans.flatMap((plan) => (plan.result ? [[plan.change.taskRunId, plan.result.id] as const] : [])),
    );
    const newResults = plans.flatMap((plan) => (plan.result ? [plan.result] : []));
    for (const plan of plans) {
      newResults.push(...this.planCachedInputs(plan, loaded.get(plan.change.taskRunId)!, loaded, batchResults));
    }

    const written: StoredHandle[] = [];
    const intent: BatchIntent = { objects: [] };
    let results: StateBatch["results"];
    try {
      results = await this.writeResults(scope, newResults, written, intent, reach, known && changes);
    } catch (error) {
      await this.discard(written, intent, reach);
      throw error;
    }
    const batch: StateBatch = {
      id: newRowId(),
      changes: plans.map(({ change, stateId, result }) => ({
        taskRunId: change.taskRunId,
        version: change.version,
        stateId,
        type: change.state.type,
        message: change.state.message ?? null,
        resultId: result?.id ?? null,
        idempotencyKey: change.idempotencyKey ?? null,
      })),
      results,
      cachedInputs: plans.flatMap(({ stateId, cachedInputs }) => cachedInputs.map((input) => ({ stateId, ...input }))),
      // A prepared upload's intent goes with the batch that records it (and keeps it otherwise).
      batchIntentId: intent.id ?? null,
      intentIds: [...new Set(plans.flatMap((plan) => (plan.preparedIntentId ? [plan.preparedIntentId] : [])))],
      notices: noticesOf(changesOf(scope, ids, loaded)),
    };
    const outcome = await this.recordOrResolve(batch, written, intent, reach);
    if (!outcome.recorded) {
      // Known not recorded: what this call wrote is referenced by nothing.
      await this.discard(written, intent, reach);
      if ("intentsLost" in outcome) {
        throw new HandledError(
          ErrorCode.RESULT_WRITE_FAILED,
          "Writing this batch's values took longer than the grace period after which unrecorded objects are deleted (HANDLED_GC_GRACE); nothing was recorded. Retry it.",
        );
      }
      // A retry that raced the call it repeats, and lost: answer with what that call recorded.
      const raced = keyed.length > 0 ? replayOf(changes, await this.loadTaskRuns(scope, ids, [], keyed)) : undefined;
      if (raced) return raced;
      throw this.staleError(scope, changes, [outcome.stale]);
    }
    return advanced(changes, loaded);
  }

  /**
   * Records a batch. When the recording statement fails, PostgreSQL is asked whether the batch
   * was recorded anyway (a connection lost after the commit, before the answer) and the batch
   * is fenced so that it cannot be recorded later. Recorded: the call succeeds. Not recorded:
   * what was written is removed, and the statement's error stands. Unknown, because PostgreSQL
   * cannot be reached: nothing is removed (a committed row may point at it; the objects are
   * logged for the sweeper) and the call fails with DATABASE_UNAVAILABLE, to be retried with
   * the same idempotency keys.
   */
  private async recordOrResolve(
    batch: StateBatch,
    written: readonly StoredHandle[],
    intent: BatchIntent,
    reach: Reach,
  ): Promise<RecordOutcome> {
    try {
      return await this.deps.queries.recordStateBatch(batch);
    } catch (error) {
      const outcome = await this.resolveCommit(batch.id);
      if (outcome === "recorded") {
        this.deps.logger.warn(
          { batch: batch.id, cause: describeDatabaseError(error) },
          "the connection failed after the batch committed; it was recorded",
        );
        return { recorded: true };
      }
      if (outcome === "not-recorded") {
        await this.discard(written, intent, reach);
        throw error;
      }
      const kept = written.filter((stored) => stored.spec.type !== "JSON").map((stored) => stored.handle);
      this.deps.logger.error(
        { batch: batch.id, cause: describeDatabaseError(error), kept },
        `the connection failed while the batch committed and its outcome could not be learnt; ${kept.length} stored objects are kept (a sweep deletes them past HANDLED_GC_GRACE if it was not recorded)`,
      );
      throw new HandledError(
        ErrorCode.DATABASE_UNAVAILABLE,
        "The database connection failed while this batch was recorded, and whether it was could not be learnt. " +
          "Retry the same batch with the same idempotency keys: it is recorded at most once.",
        { cause: error },
      );
    }
  }

  /**
   * Removes what this call wrote for a batch that records nothing, and its intent; the objects
   * that could not be removed stay in the intent, for the sweeper.
   */
  private async discard(written: readonly StoredHandle[], intent: BatchIntent, reach: Reach): Promise<void> {
    const left = await this.deps.results.discard(written, reach);
    if (intent.id === undefined) return;
    await this.deps.intents
      .settleBatchIntent(
        intent.id,
        intent.objects.filter((object) => left.has(object.handle)),
      )
      .catch(() => undefined); // the sweeper finds it, and the objects gone
  }

  /**
   * The error for a batch with task runs not at its versions: NOT_FOUND for the first not there
   * (deleted since it was read: its run deleted meanwhile), else VERSION_MISMATCH for the first.
   */
  private staleError(scope: Scope, changes: readonly StateChange[], stale: readonly StaleTaskRun[]): HandledError {
    const current = new Map(stale.map((run) => [run.taskRunId, run.current]));
    const gone = changes.find((change) => current.get(change.taskRunId) === null);
    if (gone) {
      this.deps.facts.forget(scope, gone.taskRunId);
      return new HandledError(ErrorCode.NOT_FOUND, `No task run has the id "${gone.taskRunId}".`);
    }
    const behind = changes.find((change) => current.has(change.taskRunId))!;
    return versionMismatch(behind.taskRunId, behind.version, current.get(behind.taskRunId) ?? undefined);
  }

  /** resolveBatchCommit, tried again while PostgreSQL comes back; "unknown" if it does not. */
  private async resolveCommit(batchId: string): Promise<BatchCommitOutcome | "unknown"> {
    for (const pause of [0, ...RESOLVE_PAUSES_MS]) {
      await sleep(pause);
      try {
        return await this.deps.queries.resolveBatchCommit(batchId);
      } catch (error) {
        if (!isDatabaseUnavailable(error)) throw error;
      }
    }
    return "unknown";
  }

  /** The checks of a batch that need no database. */
  private checkBatch(changes: readonly StateChange[]): void {
    if (changes.length === 0) throw badInput("Give at least one state change.");
    const { maxBatchSize, maxMessageLength, maxNameLength } = this.deps.limits;
    if (changes.length > maxBatchSize) {
      throw badInput(
        `One call may set at most ${maxBatchSize} states (HANDLED_MAX_BATCH_SIZE); this one has ${changes.length}.`,
      );
    }
    for (const { state, idempotencyKey } of changes) {
      if (state.message) checkText(state.message, "A state message", maxMessageLength);
      if (idempotencyKey !== undefined && idempotencyKey !== null) {
        if (!checkText(idempotencyKey, "An idempotency key", maxNameLength))
          throw badInput("An idempotency key may not be empty.");
      }
    }
    const ids = changes.map((c) => c.taskRunId);
    if (new Set(ids).size !== ids.length) throw badInput("Each task run may appear only once in a batch.");
  }

  /**
   * Writes the values of new results through their handlers, all at once, and returns the
   * rows to record. Every write has settled before it returns or throws, and each one that
   * succeeded is in `written`, so a failure leaves nothing unaccounted for to remove. With
   * `unchecked` (a batch whose versions were not loaded), nothing is written unless each of its
   * task runs is at the version it gives.
   */
  private async writeResults(
    scope: Scope,
    newResults: readonly NewResult[],
    written: StoredHandle[],
    intent: BatchIntent,
    reach: Reach,
    unchecked?: readonly StateChange[],
  ): Promise<StateBatch["results"]> {
    const { results } = this.deps;
    const prepared = await Promise.all(
      newResults.map(({ source }) =>
        "stored" in source ? undefined : results.prepare(source.spec, source.value, reach),
      ),
    );
    // Where each object will be is recorded before any is written: whatever happens next (a
    // failure, a crash), no object is left that nothing knows of (see LifecycleService.sweep).
    for (const write of prepared) {
      if (write?.handle === undefined) continue;
      const { spec, storedBytes, sizeBytes } = write.stored;
      intent.objects.push({
        handlerType: spec.type,
        handlerConfig: handlerConfigOf(spec),
        handle: write.handle,
        sizeBytes: storedBytes ?? sizeBytes,
      });
    }
    if (intent.objects.length > 0) {
      intent.id = newRowId(); // set first: a statement that fails may have recorded it
      const stale = await this.deps.intents.recordBatchIntent(scope, intent.id, intent.objects, unchecked);
      if (stale.length > 0) {
        intent.id = undefined; // not recorded
        throw this.staleError(scope, unchecked!, stale);
      }
    }
    const settled = await Promise.allSettled(
      newResults.map(async ({ source }, i) => {
        if ("stored" in source) return source.stored;
        const stored = await results.put(prepared[i]!);
        written.push(stored);
        return stored;
      }),
    );
    const failed = settled.find((outcome) => outcome.status === "rejected");
    if (failed) throw failed.reason;
    return settled.map((outcome, i) => {
      const stored = (outcome as PromiseFulfilledResult<StoredHandle>).value;
      const { spec, ...written } = stored;
      return { id: newResults[i]!.id, handlerType: spec.type, handlerConfig: handlerConfigOf(spec), ...written };
    });
  }

  /**
   * The prepared uploads (see TransferService) among the handles a batch's handled results give,
   * by handle; one statement, and none for a batch without such results.
   */
  private async preparedUploadsOf(changes: readonly StateChange[]): Promise<Map<string, PreparedIntent>> {
    const handles = changes.flatMap(({ state }) => {
      const handled = state.result?.handled;
      const type = (handled?.handler as { type?: unknown } | undefined)?.type;
      if (!handled || type === "JSON" || typeof handled.handle !== "string") return [];
      // Checked before it is looked up: a handle that is not text PostgreSQL takes is refused here.
      return [checkText(handled.handle, "A handle", this.deps.limits.maxHandleLength)];
    });
    if (handles.length === 0) return new Map();
    return new Map((await this.deps.intents.preparedUploads(handles)).map((intent) => [intent.handle, intent]));
  }

  /**
   * What a handled result stores: a prepared upload's object is checked against what was declared
   * or seen of it, and may be recorded only by its own task run before it expires
   * (UPLOAD_NOT_PREPARED); any other is checked as a client's own object (verifyHandled).
   */
  private async storedHandled(
    scope: Scope,
    change: StateChange,
    handled: NonNullable<ResultInput["handled"]>,
    reach: Reach,
    prepared: Map<string, PreparedIntent>,
  ): Promise<{ stored: StoredHandle; preparedIntentId?: string }> {
    const { results } = this.deps;
    const intent = prepared.get(handled.handle);
    if (!intent) return { stored: await results.verifyHandled(handled.handler, handled.handle, reach, handled) };
    const refuse = (why: string) =>
      new HandledError(ErrorCode.UPLOAD_NOT_PREPARED, `The handle "${handled.handle}" ${why}; nothing was recorded.`);
    if (intent.projectId !== scope.projectId || intent.taskRunId !== change.taskRunId) {
      throw refuse("was prepared for another task run");
    }
    if (intent.expired) throw refuse(`expired at ${intent.expiresAt.toISOString()}: prepare another upload`);
    if (intent.uploadedAt !== null && intent.sha256 === null)
      throw refuse("is still being uploaded, or its upload failed");
    const result = preparedResult(intent);
    const given = parseHandlerSpec(handled.handler);
    if (!sameHandler(given, result.spec)) throw refuse(`was prepared for another handler (${intent.handlerType})`);
    return { stored: await results.verifyPrepared(result, handled, reach), preparedIntentId: intent.id };
  }

  /** Checks an entry's own result and works out what it will store; writes nothing. */
  private async planResult(
    scope: Scope,
    change: StateChange,
    run: TaskRunForChange,
    reach: Reach,
    prepared: Map<string, PreparedIntent>,
  ): Promise<Plan> {
    const { results, defaultHandler } = this.deps;
    const plan: Plan = { change, stateId: newRowId(), cachedInputs: [] };
    const result = change.state.result;
    if (result) {
      const hasValue = has(result, "value");
      const hasHandled = result.handled !== undefined && result.handled !== null;
      if (hasValue === hasHandled) {
        throw badInput(
          `The result for task run ${change.taskRunId} must give exactly one of "value" or "handled" (omit "result" for no result).`,
        );
      }
      if (result.handled) {
        const { stored, preparedIntentId } = await this.storedHandled(scope, change, result.handled, reach, prepared);
        plan.result = { id: newRowId(), source: { stored } };
        if (preparedIntentId) plan.preparedIntentId = preparedIntentId;
      } else {
        const spec = resolveResultHandler(run.task, run.flow, defaultHandler);
        plan.result = { id: newRowId(), source: { spec, value: results.encode(result.value) } };
      }
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
    run: TaskRunForChange,
    upstream: Map<string, TaskRunForChange>,
    batchResults: Map<string, string>,
  ): NewResult[] {
    const { results, defaultHandler } = this.deps;
    const created: NewResult[] = [];
    const names = new Set<string>();
    for (const input of plan.change.state.cachedInputs ?? []) {
      if (!checkText(input.name, "A cached input name", this.deps.limits.maxNameLength).trim()) {
        throw badInput("A cached input needs a name.");
      }
      if (names.has(input.name)) throw badInput(`The cached input "${input.name}" is given twice.`);
      names.add(input.name);
      const source = upstream.get(input.upstreamTaskRunId)!;
      if (source.flowRunId !== run.flowRunId) {
        throw badInput(`The upstream task run ${input.upstreamTaskRunId} is not part of the same flow run.`);
      }
      let resultId: string | undefined;
      if (has(input, "value")) {
        // Handlers belong to outputs: the input is written with the upstream task's handler.
        const spec = resolveResultHandler(source.task, source.flow, defaultHandler);
        const result: NewResult = { id: newRowId(), source: { spec, value: results.encode(input.value) } };
        created.push(result);
        resultId = result.id;
      } else {
        resultId = batchResults.get(source.id) ?? source.latestResultId ?? undefined;
        if (!resultId) {
          throw badInput(
            `The upstream task run ${input.upstreamTaskRunId} has no result to cache as "${input.name}"; give its value instead.`,
          );
        }
      }
      plan.cachedInputs.push({
        id: newRowId(),
        name: input.name,
        upstreamTaskRunId: input.upstreamTaskRunId,
        resultId,
      });
    }
    return created;
  }

  /**
   * The batch's task runs from what is known of them, when loading them can be skipped: every
   * one was loaded before in this project, no entry has idempotency keys or cached inputs, and
   * every result is a value (not one the client handled). Nothing is written anywhere before
   * each version, and that each task run still exists, is checked: by the recording statement
   * for values kept in the database, by the statement recording the write intents for values
   * written outside it (see writeResults). A stale or gone one is reported as the loaded path
   * does, only after the values are checked rather than before. Undefined otherwise.
   */
  private knownBatch(
    scope: Scope,
    changes: readonly StateChange[],
    keyed: readonly KeyedChange[],
    upstreamIds: readonly string[],
  ): Map<string, TaskRunForChange> | undefined {
    if (keyed.length > 0 || upstreamIds.length > 0) return undefined;
    const known = this.deps.facts.all(
      scope,
      changes.map((change) => change.taskRunId),
    );
    if (!known) return undefined;
    const loaded = new Map<string, TaskRunForChange>();
    for (const change of changes) {
      const facts = known.get(change.taskRunId)!;
      const result = change.state.result;
      if (result && !has(result, "value")) return undefined;
      loaded.set(change.taskRunId, { ...facts, version: change.version, latestResultId: null, keyedState: null });
    }
    return loaded;
  }

  /** Loads task runs by id; throws NOT_FOUND naming the first that does not exist. */
  private async loadTaskRuns(
    scope: Scope,
    ids: readonly string[],
    withLatestResult: readonly string[],
    keyed: readonly KeyedChange[],
  ) {
    const unique = [...new Set(ids)];
    const bad = unique.find((id) => !isUuid(id));
    if (bad) throw new HandledError(ErrorCode.NOT_FOUND, `No task run has the id "${bad}".`);
    const byId = await this.deps.queries.loadTaskRunsForChange(scope, unique, [...new Set(withLatestResult)], keyed);
    const missing = unique.find((id) => !byId.has(id));
    if (missing) throw new HandledError(ErrorCode.NOT_FOUND, `No task run has the id "${missing}".`);
    this.deps.facts.remember(scope, byId.values());
    return byId;
  }
}

/** Pauses between the three attempts to learn a batch's outcome while PostgreSQL is unreachable. */
const RESOLVE_PAUSES_MS = [1000, 2000];

/** The idempotency keys a batch gives. */
function keyedChanges(changes: readonly StateChange[]): KeyedChange[] {
  return changes.flatMap(({ taskRunId, idempotencyKey }) => (idempotencyKey ? [{ taskRunId, idempotencyKey }] : []));
}

/**
 * When a batch was already recorded with its idempotency keys, the task runs at the versions
 * it recorded; undefined when none of its keys was used. A batch is recorded whole, so a key
 * used by only some entries, or for another version or state type, is a different batch
 * reusing keys: BAD_USER_INPUT.
 */
function replayOf(changes: readonly StateChange[], loaded: Map<string, TaskRunForChange>): TaskRunRow[] | undefined {
  const recorded = changes.map((change) => loaded.get(change.taskRunId)?.keyedState ?? null);
  if (recorded.every((state) => state === null)) return undefined;
  changes.forEach((change, i) => {
    const state = recorded[i];
    if (!state || state.version !== change.version + 1 || state.type !== change.state.type) {
      throw badInput(
        `The idempotency key "${change.idempotencyKey ?? ""}" of task run ${change.taskRunId} does not match the change recorded with ` +
          `this batch's keys: a retry must repeat the same batch (versions and state types); a new change needs new keys.`,
      );
    }
  });
  return advanced(changes, loaded);
}

/** The task runs of a batch at the versions it moved them to. */
function advanced(changes: readonly StateChange[], loaded: Map<string, TaskRunForChange>): TaskRunRow[] {
  return changes.map((change) => {
    const { id, flowRunId, taskId } = loaded.get(change.taskRunId)!;
    return { id, flowRunId, taskId, version: change.version + 1 };
  });
}

function versionMismatch(taskRunId: string, given: number, current: number | undefined): HandledError {
  return new HandledError(
    ErrorCode.VERSION_MISMATCH,
    `Task run ${taskRunId} is at version ${current ?? "unknown"}, not ${given}: read it again and retry.`,
  );
}

/** What a batch changes, per flow run: its task runs, each named once. */
function changesOf(
  scope: Scope,
  taskRunIds: readonly string[],
  loaded: ReadonlyMap<string, TaskRunForChange>,
): Change[] {
  const byRun = new Map<string, Change>();
  for (const id of new Set(taskRunIds)) {
    const run = loaded.get(id)!;
    let change = byRun.get(run.flowRunId);
    if (!change) {
      change = { projectId: scope.projectId, flowId: run.flowId, flowRunId: run.flowRunId, taskRunIds: [] };
      byRun.set(run.flowRunId, change);
    }
    change.taskRunIds.push(id);
  }
  return [...byRun.values()];
}
