import DataLoader from "dataloader";
import type { CachedInput, FlowRun, HandlerType, PrismaClient, Result, StateType } from "../generated/prisma/client.js";
import type { FlowRunState } from "../generated/graphql.js";
import type pg from "pg";
import type { FlowRunModel, ParameterModel, StateModel, TaskRunModel } from "./mappers.js";
import { toPage, type Page } from "./pagination.js";

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
  flowRun: DataLoader<string, FlowRun | null>;
  flowRunState: DataLoader<string, FlowRunState>;
  /** Runs of a flow, newest first. */
  runsOfFlow: DataLoader<PageKey<[string, string]>, Page<FlowRunModel>, string>;
  /** A task run by id, with its current state and that state's result. */
  taskRun: DataLoader<string, TaskRunModel | null>;
  /** The task runs of a flow run in task order, each with its current state and result. */
  taskRunsOfFlowRun: DataLoader<PageKey<number>, Page<TaskRunModel>, string>;
  /** The states of a task run, oldest first, each with its result. */
  statesOfTaskRun: DataLoader<PageKey<number>, Page<StateModel>, string>;
  /** The parameters of a flow run, in task order. */
  parametersOfFlowRun: DataLoader<string, ParameterModel[]>;
  /** The inputs a state cached, by name. */
  cachedInputsOfState: DataLoader<string, CachedInput[]>;
  result: DataLoader<string, Result | null>;
}


/** A flow run's state from its task runs' current states (`s`): see FlowRunState in the schema. */
const FLOW_RUN_STATE = `
  CASE
    WHEN bool_or(s.type = 'FAILED') THEN 'FAILED'
    WHEN bool_or(s.type = 'CANCELLED') THEN 'CANCELLED'
    WHEN coalesce(bool_and(s.type IN ('SUCCESS', 'CACHED', 'SKIPPED')), true) THEN 'SUCCESS'
    WHEN bool_and(s.type IN ('PENDING', 'SCHEDULED')) THEN 'PENDING'
    ELSE 'RUNNING'
  END`;

/** The columns of a result joined as `r`, named for resultFromRow. */
const RESULT_COLUMNS = `
  r.id::text AS "resultId", r.handler_type::text AS "resultHandlerType", r.handler_config AS "resultHandlerConfig",
  r.handle AS "resultHandle", r.size_bytes::text AS "resultSizeBytes", r.handled AS "resultHandled",
  r.created_at AS "resultCreatedAt"`;

interface ResultColumns {
  resultId: string | null;
  resultHandlerType: HandlerType | null;
  resultHandlerConfig: unknown;
  resultHandle: string | null;
  resultSizeBytes: string | null;
  resultHandled: boolean | null;
  resultCreatedAt: Date | null;
}

function resultFromRow(row: ResultColumns): Result | null {
  if (!row.resultId) return null;
  return {
    id: row.resultId,
    handlerType: row.resultHandlerType!,
    handlerConfig: row.resultHandlerConfig as Result["handlerConfig"],
    handle: row.resultHandle!,
    sizeBytes: row.resultSizeBytes === null ? null : BigInt(row.resultSizeBytes),
    handled: row.resultHandled!,
    createdAt: row.resultCreatedAt!,
  };
}

/** A task run joined with its current state and that state's result, as one row. */
interface TaskRunRow extends ResultColumns {
  parent?: string;
  id: string;
  flowRunId: string;
  taskId: string;
  version: number;
  position: number;
  stateId: string;
  stateType: StateType;
  stateMessage: string | null;
  stateCreatedAt: Date;
}

const TASK_RUN_COLUMNS = `
  t.id::text, t.flow_run_id::text AS "flowRunId", t.task_id::text AS "taskId", t.version, k.position,
  s.id::text AS "stateId", s.type::text AS "stateType", s.message AS "stateMessage", s.created_at AS "stateCreatedAt",
  ${RESULT_COLUMNS}`;
const TASK_RUN_JOINS = `
  FROM task_run t
  JOIN task k ON k.id = t.task_id
  JOIN state s ON s.task_run_id = t.id AND s.version = t.version
  LEFT JOIN result r ON r.id = s.result_id`;

function taskRunFromRow(row: TaskRunRow): TaskRunModel {
  const loadedState: StateModel = {
    id: row.stateId,
    taskRunId: row.id,
    version: row.version,
    type: row.stateType,
    message: row.stateMessage,
    resultId: row.resultId,
    createdAt: row.stateCreatedAt,
    loadedResult: resultFromRow(row),
  };
  return { id: row.id, flowRunId: row.flowRunId, taskId: row.taskId, version: row.version, position: row.position, loadedState };
}

interface ParameterRow extends ResultColumns {
  id: string;
  flowRunId: string;
  taskId: string;
  version: number;
  name: string;
}

interface StateRow extends ResultColumns {
  parent: string;
  id: string;
  taskRunId: string;
  version: number;
  type: StateType;
  message: string | null;
  createdAt: Date;
}

interface FlowRunRow {
  parent: string;
  id: string;
  flowId: string;
  createdAt: Date;
  state: FlowRunState;
}

/** Orders `rows` like `keys`, one entry per key (null where none matched). */
function byKey<T>(keys: readonly string[], rows: readonly T[], key: (row: T) => string): (T | null)[] {
  const found = new Map(rows.map((row) => [key(row), row]));
  return keys.map((k) => found.get(k) ?? null);
}

/** Groups `rows` by `key` into one list per key of `keys`, keeping the rows' order. */
function groupBy<T>(keys: readonly string[], rows: readonly T[], key: (row: T) => string): T[][] {
  const groups = new Map(keys.map((k) => [k, [] as T[]]));
  for (const row of rows) groups.get(key(row))?.push(row);
  return keys.map((k) => groups.get(k)!);
}

/**
 * A loader of pages of lists: the keys asking for the same page (size, cursor, filter) of
 * different parents are fetched together, `size + 1` rows per parent, in one statement.
 */
function pagedLoader<A, R extends { parent?: string }, T>(
  fetch: (parents: string[], size: number, after: A | null, state: FlowRunState | null) => Promise<R[]>,
  toNode: (row: R) => T,
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
        const rows = groupBy(parents, await fetch(parents, size, after, state ?? null), (row) => row.parent!);
        group.forEach((key, i) => pages.set(key, toPage(rows[i]!.map(toNode), size, cursorOf)));
      }
      return keys.map((key) => pages.get(key)!);
    },
    { cacheKeyFn: (key) => JSON.stringify([key.parent, key.size, key.after, key.state ?? null]) },
  );
}

export function createLoaders(prisma: PrismaClient, pool: pg.Pool): Loaders {
  const sql = async <T extends pg.QueryResultRow>(text: string, values: unknown[]) => (await pool.query<T>(text, values)).rows;
  const ids = <T extends pg.QueryResultRow>(query: string, keys: readonly string[]) => sql<T>(query, [keys]);

  return {
    flowRun: new DataLoader(async (keys) => byKey(keys, await prisma.flowRun.findMany({ where: { id: { in: [...keys] } } }), (r) => r.id)),

    flowRunState: new DataLoader(async (keys) => {
      const rows = await ids<{ id: string; state: FlowRunState }>(
        `SELECT t.flow_run_id::text AS id, ${FLOW_RUN_STATE} AS state
         FROM task_run t JOIN state s ON s.task_run_id = t.id AND s.version = t.version
         WHERE t.flow_run_id = ANY($1::uuid[]) GROUP BY t.flow_run_id`,
        keys,
      );
      // A run with no task runs has no rows: nothing to do is done.
      return byKey(keys, rows, (row) => row.id).map((row) => row?.state ?? "SUCCESS");
    }),

    runsOfFlow: pagedLoader(
      (parents, size, after, state) =>
        sql<FlowRunRow>(
          `SELECT p.parent::text AS parent, x.* FROM unnest($1::uuid[]) AS p(parent)
           CROSS JOIN LATERAL (
             SELECT fr.id::text, fr.flow_id::text AS "flowId", fr.created_at AS "createdAt", st.state
             FROM flow_run fr
             CROSS JOIN LATERAL (
               SELECT ${FLOW_RUN_STATE} AS state
               FROM task_run t JOIN state s ON s.task_run_id = t.id AND s.version = t.version
               WHERE t.flow_run_id = fr.id
             ) st
             WHERE fr.flow_id = p.parent
               AND ($2::timestamptz IS NULL OR (fr.created_at, fr.id) < ($2::timestamptz, $3::uuid))
               AND ($4::text IS NULL OR st.state = $4::text)
             ORDER BY fr.created_at DESC, fr.id DESC
             LIMIT $5
           ) x`,
          [parents, after?.[0] ?? null, after?.[1] ?? null, state, size + 1],
        ),
      (row): FlowRunModel => ({ id: row.id, flowId: row.flowId, createdAt: row.createdAt, loadedState: row.state }),
      (run) => [run.createdAt.toISOString(), run.id],
    ),

    taskRun: new DataLoader(async (keys) =>
      byKey(keys, (await ids<TaskRunRow>(`SELECT ${TASK_RUN_COLUMNS} ${TASK_RUN_JOINS} WHERE t.id = ANY($1::uuid[])`, keys)).map(taskRunFromRow), (r) => r.id),
    ),

    taskRunsOfFlowRun: pagedLoader(
      (parents, size, after) =>
        sql<TaskRunRow>(
          `SELECT p.parent::text AS parent, x.* FROM unnest($1::uuid[]) AS p(parent)
           CROSS JOIN LATERAL (
             SELECT ${TASK_RUN_COLUMNS} ${TASK_RUN_JOINS}
             WHERE t.flow_run_id = p.parent AND k.position > $2
             ORDER BY k.position
             LIMIT $3
           ) x`,
          [parents, after ?? -1, size + 1],
        ),
      taskRunFromRow,
      (run) => [run.position!],
    ),

    statesOfTaskRun: pagedLoader(
      (parents, size, after) =>
        sql<StateRow>(
          `SELECT p.parent::text AS parent, x.* FROM unnest($1::uuid[]) AS p(parent)
           CROSS JOIN LATERAL (
             SELECT s.id::text, s.task_run_id::text AS "taskRunId", s.version, s.type::text AS type, s.message,
                    s.created_at AS "createdAt", ${RESULT_COLUMNS}
             FROM state s LEFT JOIN result r ON r.id = s.result_id
             WHERE s.task_run_id = p.parent AND s.version > $2
             ORDER BY s.version
             LIMIT $3
           ) x`,
          [parents, after ?? 0, size + 1],
        ),
      (row): StateModel => ({
        id: row.id,
        taskRunId: row.taskRunId,
        version: row.version,
        type: row.type,
        message: row.message,
        resultId: row.resultId,
        createdAt: row.createdAt,
        loadedResult: resultFromRow(row),
      }),
      (state) => [state.version],
    ),

    parametersOfFlowRun: new DataLoader(async (keys) => {
      // A parameter's value is the result of its first state, given when the run was created.
      const rows = await ids<ParameterRow>(
        `SELECT t.id::text, t.flow_run_id::text AS "flowRunId", t.task_id::text AS "taskId", t.version, k.name, ${RESULT_COLUMNS}
         FROM task_run t
         JOIN task k ON k.id = t.task_id AND k.is_parameter
         JOIN state s ON s.task_run_id = t.id AND s.version = 1
         LEFT JOIN result r ON r.id = s.result_id
         WHERE t.flow_run_id = ANY($1::uuid[])
         ORDER BY k.position`,
        keys,
      );
      const parameters = rows.map(
        (row): ParameterModel => ({
          name: row.name,
          taskRun: { id: row.id, flowRunId: row.flowRunId, taskId: row.taskId, version: row.version },
          result: resultFromRow(row),
        }),
      );
      return groupBy(keys, parameters, (parameter) => parameter.taskRun.flowRunId);
    }),

    cachedInputsOfState: new DataLoader(async (keys) =>
      groupBy(
        keys,
        await prisma.cachedInput.findMany({ where: { stateId: { in: [...keys] } }, orderBy: { name: "asc" } }),
        (input) => input.stateId,
      ),
    ),

    result: new DataLoader(async (keys) => byKey(keys, await prisma.result.findMany({ where: { id: { in: [...keys] } } }), (r) => r.id)),
  };
}
