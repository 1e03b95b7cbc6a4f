// SQL shared by the queries that read task runs, states and results in one statement, and the
// mappers from their rows to the rows of ./rows.ts.
import type { HandlerType, ResultRow, StateRow, StateType, TaskRunRow } from "./rows.js";

/** A statement PostgreSQL may prepare once per connection: its name, and its one text. */
export interface Statement {
  name: string;
  text: string;
}

const statementNames = new Set<string>();

/**
 * Names a statement, so that each connection parses and plans it once and then runs it by name:
 * a read of a few rows spends longer being planned (a millisecond for five joins) than run.
 * Run it as `pool.query({ ...STATEMENT, values })`. A name holds one text for the life of the
 * process (pg would run the first text under it), so names are checked to be unique.
 */
export function statement(name: string, text: string): Statement {
  if (statementNames.has(name)) throw new Error(`Two statements are named "${name}".`);
  statementNames.add(name);
  return { name, text };
}

/** A flow run's state from its task runs' current states (`s`): see FlowRunState in the schema. */
export const FLOW_RUN_STATE = `
  CASE
    WHEN bool_or(s.type = 'FAILED') THEN 'FAILED'
    WHEN bool_or(s.type = 'CANCELLED') THEN 'CANCELLED'
    WHEN coalesce(bool_and(s.type IN ('SUCCESS', 'CACHED', 'SKIPPED')), true) THEN 'SUCCESS'
    WHEN bool_and(s.type IN ('PENDING', 'SCHEDULED')) THEN 'PENDING'
    ELSE 'RUNNING'
  END`;

/** The columns of a result joined as `r`, named for resultFromColumns. */
export const RESULT_COLUMNS = `
  r.id::text AS "resultId", r.handler_type::text AS "resultHandlerType", r.handler_config AS "resultHandlerConfig",
  r.handle AS "resultHandle", r.size_bytes::text AS "resultSizeBytes", r.sha256 AS "resultSha256",
  r.stored_bytes::text AS "resultStoredBytes", r.codecs AS "resultCodecs", r.key_id AS "resultKeyId",
  r.handled AS "resultHandled", r.created_at AS "resultCreatedAt"`;

export interface ResultColumns {
  resultId: string | null;
  resultHandlerType: HandlerType | null;
  resultHandlerConfig: unknown;
  resultHandle: string | null;
  resultSizeBytes: string | null;
  resultSha256: string | null;
  resultStoredBytes: string | null;
  resultCodecs: string[] | null;
  resultKeyId: string | null;
  resultHandled: boolean | null;
  resultCreatedAt: Date | null;
}

export function resultFromColumns(row: ResultColumns): ResultRow | null {
  if (!row.resultId) return null;
  return {
    id: row.resultId,
    handlerType: row.resultHandlerType!,
    handlerConfig: row.resultHandlerConfig as ResultRow["handlerConfig"],
    handle: row.resultHandle!,
    sizeBytes: row.resultSizeBytes === null ? null : BigInt(row.resultSizeBytes),
    sha256: row.resultSha256,
    storedBytes: row.resultStoredBytes === null ? null : BigInt(row.resultStoredBytes),
    codecs: row.resultCodecs ?? [],
    keyId: row.resultKeyId,
    handled: row.resultHandled!,
    createdAt: row.resultCreatedAt!,
  };
}

/** A task run joined with its current state and that state's result, as one row. */
export interface TaskRunColumns extends ResultColumns {
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

export const TASK_RUN_COLUMNS = `
  t.id::text, t.flow_run_id::text AS "flowRunId", t.task_id::text AS "taskId", t.version, k.position,
  s.id::text AS "stateId", s.type::text AS "stateType", s.message AS "stateMessage", s.created_at AS "stateCreatedAt",
  ${RESULT_COLUMNS}`;

export const TASK_RUN_JOINS = `
  FROM task_run t
  JOIN task k ON k.id = t.task_id
  JOIN state s ON s.task_run_id = t.id AND s.version = t.version
  LEFT JOIN result r ON r.id = s.result_id`;

export function taskRunFromColumns(row: TaskRunColumns): TaskRunRow {
  const loadedState: StateRow = {
    id: row.stateId,
    taskRunId: row.id,
    version: row.version,
    type: row.stateType,
    message: row.stateMessage,
    resultId: row.resultId,
    createdAt: row.stateCreatedAt,
    loadedResult: resultFromColumns(row),
  };
  return {
    id: row.id,
    flowRunId: row.flowRunId,
    taskId: row.taskId,
    version: row.version,
    position: row.position,
    loadedState,
  };
}
