// States: reading a task run's history, and recording state changes. A batch of state changes
// costs two statements whatever its size: one to load the task runs it names, one to record it
// (only the second when the service already knows what the first would load).
// Prisma has no single statement for either, so both are plain SQL, sent on the pool under
// Prisma's adapter (see Database.pool).
import type pg from "pg";
import { CHANGES_CHANNEL } from "./changes.js";
import type { HandlerType, Scope, StateRow, StateType, Tagged } from "./rows.js";
import { RESULT_COLUMNS, type ResultColumns, resultFromColumns, statement } from "./sql.js";

/** A task run's state at one version. */
export interface StateKey {
  taskRunId: string;
  version: number;
}

const STATE_COLUMNS = `s.id::text, s.task_run_id::text AS "taskRunId", s.version, s.type::text AS type, s.message,
  s.created_at AS "createdAt", ${RESULT_COLUMNS}`;

const OF_TASK_RUNS = statement(
  "states-of-task-runs",
  `SELECT p.parent::text AS parent, x.* FROM unnest($1::uuid[]) AS p(parent)
   CROSS JOIN LATERAL (
     SELECT ${STATE_COLUMNS}
     FROM state s LEFT JOIN result r ON r.id = s.result_id
     WHERE s.task_run_id = p.parent AND s.version > $2
     ORDER BY s.version
     LIMIT $3
   ) x`,
);

const AT_VERSIONS = statement(
  "states-at-versions",
  `SELECT ${STATE_COLUMNS}
   FROM unnest($1::uuid[], $2::int[]) AS k(task_run_id, version)
   JOIN state s ON s.task_run_id = k.task_run_id AND s.version = k.version
   LEFT JOIN result r ON r.id = s.result_id`,
);

/** Reads of task runs' states, each with its result. */
export function stateQueries(pool: pg.Pool) {
  type Row = ResultColumns & {
    id: string;
    taskRunId: string;
    version: number;
    type: StateType;
    message: string | null;
    createdAt: Date;
  };
  const toState = (row: Row): StateRow => ({
    id: row.id,
    taskRunId: row.taskRunId,
    version: row.version,
    type: row.type,
    message: row.message,
    resultId: row.resultId,
    createdAt: row.createdAt,
    loadedResult: resultFromColumns(row),
  });
  return {
    /** Up to `limit` states of each task run in `taskRunIds`, oldest first after version `after`, tagged with their task run. */
    async ofTaskRuns(taskRunIds: readonly string[], limit: number, after: number | null): Promise<Tagged<StateRow>[]> {
      const { rows } = await pool.query<Row & { parent: string }>({
        ...OF_TASK_RUNS,
        values: [taskRunIds, after ?? 0, limit],
      });
      return rows.map((row) => ({ ...toState(row), parent: row.parent }));
    },

    /** The states at the given versions of the given task runs (those that exist). */
    async atVersions(keys: readonly StateKey[]): Promise<StateRow[]> {
      const { rows } = await pool.query<Row>({
        ...AT_VERSIONS,
        values: [keys.map((key) => key.taskRunId), keys.map((key) => key.version)],
      });
      return rows.map(toState);
    },

    loadTaskRunsForChange: (
      scope: Scope,
      ids: readonly string[],
      withLatestResult: readonly string[],
      keyed: readonly KeyedChange[] = [],
    ) => loadTaskRunsForChange(pool, scope, ids, withLatestResult, keyed),
    recordStateBatch: (batch: StateBatch) => recordStateBatch(pool, batch),
    resolveBatchCommit: (batchId: string) => resolveBatchCommit(pool, batchId),
    pruneBatchCommits: (olderThanSeconds: number) => pruneBatchCommits(pool, olderThanSeconds),
  };
}

export type StateQueries = ReturnType<typeof stateQueries>;

/** A task run as a state change needs it: its version, and the handlers its results use. */
export interface TaskRunForChange {
  id: string;
  flowRunId: string;
  flowId: string;
  taskId: string;
  version: number;
  task: { isParameter: boolean; handlerType: HandlerType | null; handlerConfig: unknown };
  flow: { handlerType: HandlerType | null; handlerConfig: unknown };
  /** The result of its latest state that has one (loaded only for upstream task runs). */
  latestResultId: string | null;
  /** The state recorded with the idempotency key asked about for this task run, if any. */
  keyedState: { version: number; type: StateType } | null;
}

interface TaskRunRow {
  id: string;
  flow_run_id: string;
  flow_id: string;
  task_id: string;
  version: number;
  is_parameter: boolean;
  task_handler_type: HandlerType | null;
  task_handler_config: unknown;
  flow_handler_type: HandlerType | null;
  flow_handler_config: unknown;
  latest_result_id: string | null;
  keyed_version: number | null;
  keyed_type: StateType | null;
}

/** The state of task run `t` recorded with the idempotency key given for it ($4, $5), if any. */
const KEYED_STATE_JOIN = `
  LEFT JOIN LATERAL (
    -- Among this task run's states (by the task_run_id, version index): the keyed one.
    SELECT s.version, s.type FROM unnest($4::uuid[], $5::text[]) AS g(id, key)
    JOIN state s ON s.task_run_id = g.id AND s.idempotency_key = g.key
    WHERE g.id = t.id
    ORDER BY s.version DESC LIMIT 1
  ) keyed ON true`;

/** The task runs a batch names, with what it needs of them; `keyed`: with the states its keys name. */
function forChange(keyed: boolean): string {
  return `SELECT t.id, t.flow_run_id, k.flow_id, t.task_id, t.version,
            k.is_parameter, k.handler_type AS task_handler_type, k.handler_config AS task_handler_config,
            f.handler_type AS flow_handler_type, f.handler_config AS flow_handler_config,
            CASE WHEN t.id = ANY($2::uuid[]) THEN (
              SELECT s.result_id FROM state s
              WHERE s.task_run_id = t.id AND s.result_id IS NOT NULL
              ORDER BY s.version DESC LIMIT 1
            ) END AS latest_result_id,
            ${keyed ? "keyed.version" : "NULL::int"} AS keyed_version,
            ${keyed ? "keyed.type::text" : "NULL::text"} AS keyed_type
     FROM task_run t JOIN task k ON k.id = t.task_id JOIN flow f ON f.id = k.flow_id AND f.project_id = $3
     ${keyed ? KEYED_STATE_JOIN : ""}
     WHERE t.id = ANY($1::uuid[])`;
}

// The keyed states are looked for only when keys are given: the join costs a batch without
// keys a fifth of this statement's time.
const FOR_CHANGE = statement("task-runs-for-change", forChange(false));
const FOR_KEYED_CHANGE = statement("task-runs-for-keyed-change", forChange(true));

/** An idempotency key given for a task run's state change. */
export interface KeyedChange {
  taskRunId: string;
  idempotencyKey: string;
}

/**
 * Loads the task runs of the scope's project with the given ids (those not found, or of another
 * project, are left out) with their task's and flow's handlers. For those also in `withLatestResult`, the latest result is loaded too; for
 * those in `keyed`, the state recorded with that idempotency key, if there is one.
 */
export async function loadTaskRunsForChange(
  pool: pg.Pool,
  { projectId }: Scope,
  ids: readonly string[],
  withLatestResult: readonly string[],
  keyed: readonly KeyedChange[] = [],
): Promise<Map<string, TaskRunForChange>> {
  const { rows } = await pool.query<TaskRunRow>(
    keyed.length > 0
      ? {
          ...FOR_KEYED_CHANGE,
          values: [ids, withLatestResult, projectId, keyed.map((k) => k.taskRunId), keyed.map((k) => k.idempotencyKey)],
        }
      : { ...FOR_CHANGE, values: [ids, withLatestResult, projectId] },
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        flowRunId: row.flow_run_id,
        flowId: row.flow_id,
        taskId: row.task_id,
        version: row.version,
        task: {
          isParameter: row.is_parameter,
          handlerType: row.task_handler_type,
          handlerConfig: row.task_handler_config,
        },
        flow: { handlerType: row.flow_handler_type, handlerConfig: row.flow_handler_config },
        latestResultId: row.latest_result_id,
        keyedState: row.keyed_version === null ? null : { version: row.keyed_version, type: row.keyed_type! },
      },
    ]),
  );
}

/** What one batch records. Every id is chosen beforehand, so rows can refer to each other. */
export interface StateBatch {
  /** Recorded in batch_commit with the batch, so its outcome can be learnt if the commit is in doubt. */
  id: string;
  /** Each task run moves from `version` to `version + 1`. */
  changes: {
    taskRunId: string;
    version: number;
    stateId: string;
    type: StateType;
    message: string | null;
    resultId: string | null;
    idempotencyKey: string | null;
  }[];
  results: {
    id: string;
    handlerType: HandlerType;
    handlerConfig: Record<string, unknown>;
    handle: string;
    sizeBytes: number;
    sha256: string | null;
    /** Null when no codec was applied. */
    storedBytes: number | null;
    codecs: readonly string[];
    keyId: string | null;
  }[];
  cachedInputs: { id: string; stateId: string; name: string; upstreamTaskRunId: string; resultId: string }[];
  /** The intent of the objects written for it (see BatchIntent): removed when it is recorded. */
  batchIntentId: string | null;
  /** The intents of the prepared uploads it records: removed when it is recorded. */
  intentIds: string[];
  /** What the batch changed, announced to every replica's subscribers when (and only if) it commits. */
  notices: string[];
}

/** How a batch was recorded: all of it, or (some version being stale) none of it. */
export type RecordOutcome =
  | { recorded: true }
  | { recorded: false; stale: { taskRunId: string; current: number | null } }
  | { recorded: false; intentsLost: true };

const RECORD_BATCH = statement(
  "record-state-batch",
  `WITH given AS (
       SELECT * FROM unnest($1::uuid[], $2::int[]) AS g(id, version)
     ), locked AS (
       -- In id order, so batches sharing task runs lock them in the same order: no deadlock.
       SELECT t.id, t.version FROM task_run t WHERE t.id IN (SELECT id FROM given) ORDER BY t.id FOR UPDATE
     ), intents AS (
       -- The intents of the objects it wrote, and of the uploads it records: should a sweep have
       -- taken them (the batch took longer than the grace period), the objects may be gone, and
       -- nothing is recorded.
       SELECT id FROM storage_intent WHERE id = ANY($23::uuid[]) FOR UPDATE
     ), batch_intents AS (
       SELECT id FROM batch_intent WHERE id = $25::uuid FOR UPDATE
     ), held AS (
       SELECT (SELECT count(*) FROM intents) = cardinality($23::uuid[])
         AND (SELECT count(*) FROM batch_intents) = CASE WHEN $25::uuid IS NULL THEN 0 ELSE 1 END AS all_held
     ), checked AS (
       SELECT count(*) = $3 AND (SELECT all_held FROM held) AS ok
       FROM locked JOIN given USING (id, version)
     ), committed AS (
       -- The fence: should the server have given this batch up (resolveBatchCommit), this key
       -- is taken and the whole statement fails, recording nothing.
       INSERT INTO batch_commit (id, recorded) SELECT $18, true WHERE (SELECT ok FROM checked)
     ), bumped AS (
       UPDATE task_run t SET version = t.version + 1 FROM given
       WHERE t.id = given.id AND (SELECT ok FROM checked)
     ), new_results AS (
       INSERT INTO result (id, handler_type, handler_config, handle, size_bytes, sha256, stored_bytes, codecs, key_id, handled)
       SELECT id, handler_type::"HandlerType", handler_config, handle, size_bytes, sha256, stored_bytes,
         -- One array of codecs per result, sent joined by commas (unnest would flatten a 2-D array).
         string_to_array(codecs, ','), key_id, true
       FROM unnest($4::uuid[], $5::text[], $6::jsonb[], $7::text[], $16::bigint[], $19::text[], $20::bigint[],
         $21::text[], $22::text[])
         AS r(id, handler_type, handler_config, handle, size_bytes, sha256, stored_bytes, codecs, key_id)
       WHERE (SELECT ok FROM checked)
     ), new_states AS (
       INSERT INTO state (id, task_run_id, version, type, message, result_id, idempotency_key)
       SELECT id, task_run_id, version + 1, type::"StateType", message, result_id, idempotency_key
       FROM unnest($8::uuid[], $1::uuid[], $2::int[], $9::text[], $10::text[], $11::uuid[], $17::text[])
         AS s(id, task_run_id, version, type, message, result_id, idempotency_key)
       WHERE (SELECT ok FROM checked)
     ), new_cached_inputs AS (
       INSERT INTO cached_input (id, state_id, name, upstream_task_run_id, result_id)
       SELECT id, state_id, name, upstream_task_run_id, result_id
       FROM unnest($26::uuid[], $12::uuid[], $13::text[], $14::uuid[], $15::uuid[])
         AS c(id, state_id, name, upstream_task_run_id, result_id)
       WHERE (SELECT ok FROM checked)
     ), written AS (
       DELETE FROM storage_intent WHERE id IN (SELECT id FROM intents) AND (SELECT ok FROM checked)
     ), written_batch AS (
       DELETE FROM batch_intent WHERE id IN (SELECT id FROM batch_intents) AND (SELECT ok FROM checked)
     ), notified AS (
       -- Sent by PostgreSQL when the transaction commits, never when it does not.
       SELECT pg_notify('${CHANGES_CHANNEL}', n) FROM unnest($24::text[]) AS n WHERE (SELECT ok FROM checked)
     )
     SELECT given.id, locked.version, given.version AS wanted, (SELECT ok FROM checked) AS recorded,
       (SELECT all_held FROM held) AS "intentsHeld",
       -- Named here so that PostgreSQL runs "notified": a CTE that nothing reads is skipped.
       (SELECT count(*) FROM notified) AS notices
     FROM given LEFT JOIN locked USING (id)`,
);

/**
 * Records a batch in one statement, all or nothing: it locks the task runs, and only if every
 * one is still at the version given does it bump them and insert the results, states and
 * cached inputs. Locking first makes the check see versions committed after the statement
 * began, so two batches racing for one task run cannot both pass.
 */
export async function recordStateBatch(pool: pg.Pool, batch: StateBatch): Promise<RecordOutcome> {
  const { changes, results, cachedInputs } = batch;
  const column = <T, K extends keyof T>(rows: readonly T[], key: K) => rows.map((row) => row[key]);
  const { rows } = await pool.query<{
    id: string;
    version: number | null;
    wanted: number;
    recorded: boolean;
    intentsHeld: boolean;
  }>({
    ...RECORD_BATCH,
    values: [
      column(changes, "taskRunId"),
      column(changes, "version"),
      changes.length,
      column(results, "id"),
      column(results, "handlerType"),
      results.map((r) => JSON.stringify(r.handlerConfig)),
      column(results, "handle"),
      column(changes, "stateId"),
      column(changes, "type"),
      column(changes, "message"),
      column(changes, "resultId"),
      column(cachedInputs, "stateId"),
      column(cachedInputs, "name"),
      column(cachedInputs, "upstreamTaskRunId"),
      column(cachedInputs, "resultId"),
      column(results, "sizeBytes"),
      column(changes, "idempotencyKey"),
      batch.id,
      column(results, "sha256"),
      column(results, "storedBytes"),
      results.map((r) => r.codecs.join(",")),
      column(results, "keyId"),
      batch.intentIds,
      batch.notices,
      batch.batchIntentId,
      column(cachedInputs, "id"),
    ],
  });
  if (rows[0]?.recorded) return { recorded: true };
  if (rows[0] && !rows[0].intentsHeld) return { recorded: false, intentsLost: true };
  const stale = rows.find((row) => row.version !== row.wanted);
  return { recorded: false, stale: { taskRunId: stale?.id ?? changes[0]!.taskRunId, current: stale?.version ?? null } };
}

const FENCE_BATCH = statement(
  "fence-batch",
  `INSERT INTO batch_commit (id, recorded) VALUES ($1, false) ON CONFLICT (id) DO NOTHING RETURNING id`,
);
const BATCH_RECORDED = statement("batch-recorded", `SELECT recorded FROM batch_commit WHERE id = $1`);

/** What became of a batch whose recording statement failed without a clear answer. */
export type BatchCommitOutcome = "recorded" | "not-recorded";

/**
 * Learns, for certain, whether the batch `batchId` was recorded, and makes sure that if it was
 * not, it never will be: it takes the batch's key in batch_commit. If the recording statement
 * is still running somewhere (a connection cut mid-commit leaves it running on the server),
 * the insert waits for it; if that statement comes later, it fails on the key. Two statements,
 * because the second must see what the first waited for. Throws when PostgreSQL cannot be
 * reached (the outcome stays unknown).
 */
export async function resolveBatchCommit(pool: pg.Pool, batchId: string): Promise<BatchCommitOutcome> {
  const fenced = await pool.query({ ...FENCE_BATCH, values: [batchId] });
  if (fenced.rowCount === 1) return "not-recorded";
  const { rows } = await pool.query<{ recorded: boolean }>({ ...BATCH_RECORDED, values: [batchId] });
  return rows[0]?.recorded ? "recorded" : "not-recorded";
}

/**
 * Deletes batch_commit rows older than `olderThanSeconds`: long past any statement that could
 * still be running, so no longer needed to fence one. Returns how many went.
 */
export async function pruneBatchCommits(pool: pg.Pool, olderThanSeconds: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM batch_commit WHERE created_at < now() - make_interval(secs => $1)`,
    [olderThanSeconds],
  );
  return rowCount ?? 0;
}
