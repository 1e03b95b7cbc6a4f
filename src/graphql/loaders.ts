import DataLoader from "dataloader";
import type { Queries } from "../db/queries.js";
import type {
  CachedInputRow,
  FlowRow,
  FlowRunRow,
  FlowRunState,
  ParameterRow,
  ResultRow,
  Scope,
  StateRow,
  TaskRow,
  TaskRunRow,
} from "../db/rows.js";
import type { RunCursor } from "../db/runs.js";
import type { StateKey } from "../db/states.js";
import { type Page, toPage } from "./pagination.js";

/** Which page of a parent's list: its size, and the sort key of the item it starts after. */
export interface PageKey<A> {
  parent: string;
  size: number;
  after: A | null;
  /** Keeps only the items in this state (flow runs). */
  state?: FlowRunState | null;
}

/**
 * The reads of one request, batched: every `load` made while a level of the query resolves
 * becomes one SQL statement (one per distinct page asked for, for lists), so a request costs
 * the same number of statements for one item as for hundreds. Made per request, so nothing is
 * cached across requests.
 */
export interface Loaders {
  flow: DataLoader<string, FlowRow | null>;
  /** The tasks of a flow, in order. */
  tasksOfFlow: DataLoader<string, TaskRow[]>;
  task: DataLoader<string, TaskRow | null>;
  flowRun: DataLoader<string, FlowRunRow | null>;
  flowRunState: DataLoader<string, FlowRunState>;
  /** Runs of a flow, newest first. */
  runsOfFlow: DataLoader<PageKey<[string, string]>, Page<FlowRunRow>, string>;
  /** A task run by id, with its current state and that state's result. */
  taskRun: DataLoader<string, TaskRunRow | null>;
  /** The task runs of a flow run in task order, each with its current state and result. */
  taskRunsOfFlowRun: DataLoader<PageKey<number>, Page<TaskRunRow>, string>;
  /** The states of a task run, oldest first, each with its result. */
  statesOfTaskRun: DataLoader<PageKey<number>, Page<StateRow>, string>;
  /** A task run's state at a version, with its result. */
  stateAt: DataLoader<StateKey, StateRow | null, string>;
  /** The parameters of a flow run, in task order. */
  parametersOfFlowRun: DataLoader<string, ParameterRow[]>;
  /** The inputs a state cached, by name. */
  cachedInputsOfState: DataLoader<string, CachedInputRow[]>;
  result: DataLoader<string, ResultRow | null>;
}

/** Orders `rows` like `keys`, one entry per key (null where none matched). */
function byKey<K, T>(
  keys: readonly K[],
  rows: readonly T[],
  keyOfRow: (row: T) => string,
  keyOf: (key: K) => string = String,
): (T | null)[] {
  const found = new Map(rows.map((row) => [keyOfRow(row), row]));
  return keys.map((k) => found.get(keyOf(k)) ?? null);
}

/** Groups `rows` by `key` into one list per key of `keys`, keeping the rows' order. */
function groupBy<T>(keys: readonly string[], rows: readonly T[], key: (row: T) => string): T[][] {
  const groups = new Map(keys.map((k) => [k, [] as T[]]));
  for (const row of rows) groups.get(key(row))?.push(row);
  return keys.map((k) => groups.get(k)!);
}

/** A loader by id: one statement for every id asked for at one level. */
function byIdLoader<T extends { id: string }>(
  fetch: (ids: readonly string[]) => Promise<T[]>,
): DataLoader<string, T | null> {
  return new DataLoader(async (ids) => byKey(ids, await fetch(ids), (row) => row.id));
}

/**
 * A loader of pages of lists: the keys asking for the same page (size, cursor, filter) of
 * different parents are fetched together, `size + 1` rows per parent, in one statement.
 */
function pagedLoader<A, T>(
  fetch: (
    parents: string[],
    limit: number,
    after: A | null,
    state: FlowRunState | null,
  ) => Promise<(T & { parent: string })[]>,
  cursorOf: (node: T) => readonly (string | number)[],
): DataLoader<PageKey<A>, Page<T>, string> {
  return new DataLoader(
    async (keys) => {
      // DataLoader has already merged equal keys, so the parents of one group are distinct.
      const groups = new Map<string, PageKey<A>[]>();
      for (const key of keys) {
        const same = JSON.stringify([key.size, key.after, key.state ?? null]);
        const group = groups.get(same);
        if (group) group.push(key);
        else groups.set(same, [key]);
      }
      const pages = new Map<PageKey<A>, Page<T>>();
      for (const group of groups.values()) {
        const { size, after, state } = group[0]!;
        const parents = group.map((key) => key.parent);
        const rows = groupBy(parents, await fetch(parents, size + 1, after, state ?? null), (row) => row.parent);
        for (const [i, key] of group.entries()) pages.set(key, toPage<T>(rows[i]!, size, cursorOf, after !== null));
      }
      return keys.map((key) => pages.get(key)!);
    },
    { cacheKeyFn: (key) => JSON.stringify([key.parent, key.size, key.after, key.state ?? null]) },
  );
}

/** The loaders of one request, made by a caller of `scope`'s project: rows of others are never found. */
export function createLoaders(queries: Queries, scope: Scope): Loaders {
  const { flows, runs, taskRuns, states, results } = queries;
  const stateKey = (key: StateKey) => `${key.taskRunId}:${key.version}`;
  const runCursor = (after: [string, string] | null): RunCursor | null =>
    after ? { createdAt: after[0], id: after[1] } : null;

  return {
    flow: byIdLoader((ids) => flows.byIds(scope, ids)),
    tasksOfFlow: new DataLoader(async (ids) => groupBy(ids, await flows.tasksOfFlows(ids), (task) => task.flowId)),
    task: byIdLoader(flows.tasksByIds),
    flowRun: byIdLoader((ids) => runs.byIds(scope, ids)),
    // A run with no task runs has no rows: nothing to do is done.
    flowRunState: new DataLoader(async (ids) =>
      byKey(ids, await runs.states(ids), (row) => row.id).map((row) => row?.state ?? "SUCCESS"),
    ),
    runsOfFlow: pagedLoader(
      (parents, limit, after: [string, string] | null, state) => runs.ofFlows(parents, limit, runCursor(after), state),
      (run) => [run.createdAt.toISOString(), run.id],
    ),
    taskRun: byIdLoader((ids) => taskRuns.byIds(scope, ids)),
    taskRunsOfFlowRun: pagedLoader(
      (parents, limit, after: number | null) => taskRuns.ofFlowRuns(parents, limit, after),
      (run) => [run.position!],
    ),
    statesOfTaskRun: pagedLoader(
      (parents, limit, after: number | null) => states.ofTaskRuns(parents, limit, after),
      (state) => [state.version],
    ),
    stateAt: new DataLoader(
      async (keys) => byKey(keys, await states.atVersions(keys), (row) => stateKey(row), stateKey),
      { cacheKeyFn: stateKey },
    ),
    parametersOfFlowRun: new DataLoader(async (ids) =>
      groupBy(ids, await taskRuns.parametersOf(ids), (parameter) => parameter.taskRun.flowRunId),
    ),
    cachedInputsOfState: new DataLoader(async (ids) =>
      groupBy(ids, await results.cachedInputsOfStates(ids), (input) => input.stateId),
    ),
    result: byIdLoader(results.byIds),
  };
}
