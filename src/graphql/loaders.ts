import DataLoader from "dataloader";
import type { CachedInput, FlowRun, HandlerType, PrismaClient, Result, State, StateType } from "../generated/prisma/client.js";
import type { Services } from "./context.js";
import type { StateModel, TaskRunModel } from "./mappers.js";

/**
 * The reads of one request, batched: every `load` made while a level of the query resolves
 * becomes one SQL statement, so a request costs the same number of statements for one task
 * run as for a hundred. Made per request, so nothing is cached across requests.
 */
export interface Loaders {
  flowRun: DataLoader<string, FlowRun | null>;
  /** A task run by id, with its current state and that state's result. */
  taskRun: DataLoader<string, TaskRunModel | null>;
  /** The task runs of a flow run in task order, each with its current state and result. */
  taskRunsOfFlowRun: DataLoader<string, TaskRunModel[]>;
  /** Every state of a task run, oldest first. */
  statesOfTaskRun: DataLoader<string, State[]>;
  /** The inputs a state cached, by name. */
  cachedInputsOfState: DataLoader<string, CachedInput[]>;
  result: DataLoader<string, Result | null>;
}

/** Groups `rows` by `key` into one list per key of `keys`, keeping the rows' order. */
function groupBy<T>(keys: readonly string[], rows: readonly T[], key: (row: T) => string): T[][] {
  const groups = new Map(keys.map((k) => [k, [] as T[]]));
  for (const row of rows) groups.get(key(row))?.push(row);
  return keys.map((k) => groups.get(k)!);
}

/** A task run joined with its current state and that state's result, as one row. */
interface TaskRunRow {
  id: string;
  flowRunId: string;
  taskId: string;
  version: number;
  stateId: string;
  stateType: StateType;
  stateMessage: string | null;
  stateCreatedAt: Date;
  resultId: string | null;
  resultHandlerType: HandlerType | null;
  resultHandlerConfig: unknown;
  resultHandle: string | null;
  resultHandled: boolean | null;
  resultCreatedAt: Date | null;
}

function taskRunFromRow(row: TaskRunRow): TaskRunModel {
  const loadedResult: Result | null = row.resultId
    ? {
        id: row.resultId,
        handlerType: row.resultHandlerType!,
        handlerConfig: row.resultHandlerConfig as Result["handlerConfig"],
        handle: row.resultHandle!,
        handled: row.resultHandled!,
        createdAt: row.resultCreatedAt!,
      }
    : null;
  const loadedState: StateModel = {
    id: row.stateId,
    taskRunId: row.id,
    version: row.version,
    type: row.stateType,
    message: row.stateMessage,
    resultId: row.resultId,
    createdAt: row.stateCreatedAt,
    loadedResult,
  };
  return { id: row.id, flowRunId: row.flowRunId, taskId: row.taskId, version: row.version, loadedState };
}

/** Orders `rows` like `keys`, one entry per key (null where none matched). */
function byKey<T>(keys: readonly string[], rows: readonly T[], key: (row: T) => string): (T | null)[] {
  const found = new Map(rows.map((row) => [key(row), row]));
  return keys.map((k) => found.get(k) ?? null);
}

export function createLoaders(prisma: PrismaClient, sql: Services["sql"]): Loaders {
  /** Task runs with their current state and result, picked by task-run or flow-run ids. */
  const taskRunsWhere = (column: "id" | "flow_run_id", ids: readonly string[]) =>
    sql<TaskRunRow>(
      `SELECT t.id::text, t.flow_run_id::text AS "flowRunId", t.task_id::text AS "taskId", t.version,
              s.id::text AS "stateId", s.type::text AS "stateType", s.message AS "stateMessage", s.created_at AS "stateCreatedAt",
              r.id::text AS "resultId", r.handler_type::text AS "resultHandlerType", r.handler_config AS "resultHandlerConfig",
              r.handle AS "resultHandle", r.handled AS "resultHandled", r.created_at AS "resultCreatedAt"
       FROM task_run t
       JOIN task k ON k.id = t.task_id
       JOIN state s ON s.task_run_id = t.id AND s.version = t.version
       LEFT JOIN result r ON r.id = s.result_id
       WHERE t.${column} = ANY($1::uuid[])
       ORDER BY k.position`,
      [ids],
    );

  return {
    flowRun: new DataLoader(async (ids) => byKey(ids, await prisma.flowRun.findMany({ where: { id: { in: [...ids] } } }), (r) => r.id)),
    taskRun: new DataLoader(async (ids) => byKey(ids, (await taskRunsWhere("id", ids)).map(taskRunFromRow), (r) => r.id)),
    taskRunsOfFlowRun: new DataLoader(async (flowRunIds) =>
      groupBy(flowRunIds, (await taskRunsWhere("flow_run_id", flowRunIds)).map(taskRunFromRow), (run) => run.flowRunId),
    ),
    statesOfTaskRun: new DataLoader(async (taskRunIds) =>
      groupBy(
        taskRunIds,
        await prisma.state.findMany({ where: { taskRunId: { in: [...taskRunIds] } }, orderBy: { version: "asc" } }),
        (state) => state.taskRunId,
      ),
    ),
    cachedInputsOfState: new DataLoader(async (stateIds) =>
      groupBy(
        stateIds,
        await prisma.cachedInput.findMany({ where: { stateId: { in: [...stateIds] } }, orderBy: { name: "asc" } }),
        (input) => input.stateId,
      ),
    ),
    result: new DataLoader(async (ids) => byKey(ids, await prisma.result.findMany({ where: { id: { in: [...ids] } } }), (r) => r.id)),
  };
}
