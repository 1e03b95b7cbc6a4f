// Deleting runs and flows, and the storage intents that make sure the objects their results point
// at go too (see StorageIntent in prisma/schema.prisma).
import type pg from "pg";
import type { HandlerType, Scope } from "./rows.js";
import { statement } from "./sql.js";

/** An object to delete: what reaches it, and its size. */
export interface IntentRow {
  id: string;
  handlerType: HandlerType;
  handlerConfig: unknown;
  handle: string;
  sizeBytes: number | null;
  projectId: string | null;
}

/** What a deletion removed from the database, and the objects it left to delete. */
export interface DeletedRows {
  flowRuns: number;
  flows: number;
  results: number;
  /** The intents written for the objects no remaining result points at. */
  intents: IntentRow[];
}

const INTENT_COLUMNS = `id::text, handler_type::text AS "handlerType", handler_config AS "handlerConfig", handle,
  size_bytes::float8 AS "sizeBytes", project_id::text AS "projectId"`;

// The results of the doomed runs (their states' and their cached inputs'), read before the runs
// are deleted (which takes states and cached inputs with them).
const RESULTS_OF_RUNS = `
  SELECT s.result_id AS id FROM task_run t JOIN state s ON s.task_run_id = t.id
  WHERE t.flow_run_id = ANY($1::uuid[]) AND s.result_id IS NOT NULL
  UNION
  SELECT c.result_id FROM task_run t JOIN state s ON s.task_run_id = t.id JOIN cached_input c ON c.state_id = s.id
  WHERE t.flow_run_id = ANY($1::uuid[])`;

const RUNS_IN_SCOPE = statement(
  "runs-in-scope",
  `SELECT fr.id::text FROM flow_run fr JOIN flow f ON f.id = fr.flow_id
   WHERE fr.id = ANY($1::uuid[]) AND f.project_id = $2 FOR UPDATE OF fr`,
);
const RUNS_OF_FLOW = statement(
  "runs-of-flow",
  `SELECT fr.id::text FROM flow f JOIN flow_run fr ON fr.flow_id = f.id WHERE f.id = $1 AND f.project_id = $2`,
);
// A run's task runs, locked: a batch writing to one of them waits, or is waited for.
const LOCK_TASK_RUNS = statement(
  "lock-task-runs-of-run",
  `SELECT id FROM task_run WHERE flow_run_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
);
const LOCK_FLOW = statement("lock-flow", `SELECT id FROM flow WHERE id = $1 AND project_id = $2 FOR UPDATE`);
const CANDIDATES = statement("results-of-runs", RESULTS_OF_RUNS);
const DELETE_RUNS = statement("delete-runs", `DELETE FROM flow_run WHERE id = ANY($1::uuid[])`);
const DELETE_FLOW = statement("delete-flow", `DELETE FROM flow WHERE id = $1`);
// The results (`r`) pointing at the object `handle` of `handlerType`, SQL expressions. It says
// `handler_type <> 'JSON'`, the predicate of the handles' index, so that PostgreSQL can use it
// (see prisma/schema.prisma).
const resultsAt = (handle: string, handlerType: string) =>
  `SELECT 1 FROM result r WHERE r.handle = ${handle} AND r.handler_type = ${handlerType} AND r.handler_type <> 'JSON'`;
// A result goes once no state or cached input is left with it; its object, once no result left
// points at the same handle (a client may record one object twice). JSON results have no object.
const DELETE_RESULTS = statement(
  "delete-unreferenced-results",
  `WITH gone AS (
     DELETE FROM result r WHERE r.id = ANY($1::uuid[])
       AND NOT EXISTS (SELECT 1 FROM state s WHERE s.result_id = r.id)
       AND NOT EXISTS (SELECT 1 FROM cached_input c WHERE c.result_id = r.id)
     RETURNING r.id, r.handler_type, r.handler_config, r.handle, coalesce(r.stored_bytes, r.size_bytes) AS size_bytes
   ), objects AS (
     -- The statement's other parts see the rows as they were before it: the ones it deletes are
     -- left out by id.
     SELECT DISTINCT ON (handle) handler_type, handler_config, handle, size_bytes FROM gone g
     WHERE g.handler_type <> 'JSON' AND NOT EXISTS (
       ${resultsAt("g.handle", "g.handler_type")} AND r.id NOT IN (SELECT id FROM gone))
   ), intents AS (
     INSERT INTO storage_intent (id, kind, handler_type, handler_config, handle, size_bytes, project_id)
     SELECT gen_random_uuid(), 'delete', handler_type, handler_config, handle, size_bytes, $2 FROM objects
     RETURNING ${INTENT_COLUMNS}
   )
   SELECT (SELECT count(*)::int FROM gone) AS results, coalesce(json_agg(intents), '[]') AS intents FROM intents`,
);

// An intent is due at once for a deletion, and past the grace period (seconds, in parameter
// `grace`) for a write; "referenced": whether a result points at its handle (again, or after all).
// A prepared upload's intent counts from when it expires.
const due = (grace: string) =>
  `coalesce(expires_at, created_at) <= now() - make_interval(secs => CASE WHEN kind = 'delete' THEN 0 ELSE ${grace}::float8 END)`;
const DUE_COLUMNS = `${INTENT_COLUMNS}, EXISTS (${resultsAt("i.handle", "i.handler_type")}) AS referenced`;

const CLAIM_INTENTS = statement(
  "claim-intents",
  `SELECT ${DUE_COLUMNS} FROM storage_intent i
   WHERE ($1::uuid[] IS NULL OR id = ANY($1::uuid[])) AND NOT id = ANY($4::uuid[]) AND ${due("$2")}
   ORDER BY created_at LIMIT $3 FOR UPDATE OF i SKIP LOCKED`,
);
// The objects of a batch intent `b` (see BatchIntent), as rows `o` with storage_intent's columns.
const BATCH_OBJECTS = `jsonb_to_recordset(b.objects)
  AS o(handler_type "HandlerType", handler_config jsonb, handle text, size_bytes bigint)`;
// With the objects of the batches a sweep would split (see SPLIT_DUE_BATCHES), as the write
// intents it would make of them, each under its batch's id.
const PENDING_INTENTS = statement(
  "pending-intents",
  `SELECT ${DUE_COLUMNS} FROM (
     SELECT id, kind, handler_type, handler_config, handle, size_bytes, project_id, created_at, expires_at
     FROM storage_intent
     UNION ALL
     SELECT b.id, 'write', o.handler_type, o.handler_config, o.handle, o.size_bytes, b.project_id, b.created_at, NULL
     FROM batch_intent b, ${BATCH_OBJECTS}
   ) i WHERE ${due("$1")} ORDER BY created_at`,
);
const REMOVE_INTENT = statement("remove-intent", `DELETE FROM storage_intent WHERE id = $1`);

// Committed without waiting for the WAL to reach the disk (synchronous_commit off, for this
// statement's transaction only): the intent is what a crash of the server cannot lose, and it is
// committed before the object is written; a crash of PostgreSQL itself could lose the last
// fraction of a second of intents, leaving at worst an object nothing points at, never a result
// without its object. Waiting for the disk cost a third of a LOCAL write's throughput.
// One row for the batch's objects (see BatchIntent in prisma/schema.prisma).
const INSERT_BATCH_INTENT = `
  INSERT INTO batch_intent (id, objects, project_id)
  SELECT $1, $2, $3 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit`;
const RECORD_BATCH_INTENT = statement("record-batch-intent", INSERT_BATCH_INTENT);
// The same, only when each task run of a batch is still at the version the batch gives (the
// batch's values are then written, and the batch recorded): a stale batch writes nothing.
const RECORD_BATCH_INTENT_IF_CURRENT = statement(
  "record-batch-intent-if-current",
  `WITH expected AS (
     SELECT e.id, e.version, t.version AS current
     FROM unnest($4::uuid[], $5::int[]) AS e(id, version)
     LEFT JOIN (task_run t JOIN task k ON k.id = t.task_id JOIN flow f ON f.id = k.flow_id AND f.project_id = $3)
       ON t.id = e.id
   ), recorded AS (${INSERT_BATCH_INTENT}
     WHERE NOT EXISTS (SELECT FROM expected WHERE current IS DISTINCT FROM version)
   )
   SELECT id::text AS "taskRunId", current FROM expected WHERE current IS DISTINCT FROM version`,
);
// A batch that records nothing: its intent goes, or keeps only the objects that could not be removed.
const REMOVE_BATCH_INTENT = statement("remove-batch-intent", `DELETE FROM batch_intent WHERE id = $1`);
const KEEP_BATCH_OBJECTS = statement("keep-batch-objects", `UPDATE batch_intent SET objects = $2 WHERE id = $1`);
// The objects of batches past the grace period (seconds, $1), as write intents of their own,
// which the sweep then claims as any other: a crash left them, or a batch that recorded nothing
// could not remove them. A batch being recorded holds its row locked, and is skipped.
const SPLIT_DUE_BATCHES = statement(
  "split-due-batch-intents",
  `WITH due AS (
     DELETE FROM batch_intent WHERE id IN (
       SELECT id FROM batch_intent WHERE created_at <= now() - make_interval(secs => $1::float8)
       ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING *
   )
   INSERT INTO storage_intent (id, kind, handler_type, handler_config, handle, size_bytes, project_id, created_at)
   SELECT gen_random_uuid(), 'write', o.handler_type, o.handler_config, o.handle, o.size_bytes, b.project_id, b.created_at
   FROM due b, ${BATCH_OBJECTS}`,
);
const REMOVE_INTENTS = statement("remove-intents", `DELETE FROM storage_intent WHERE id = ANY($1::uuid[])`);

const PREPARED_COLUMNS = `${INTENT_COLUMNS}, task_run_id::text AS "taskRunId", expires_at AS "expiresAt",
  uploaded_at AS "uploadedAt", sha256, value_bytes::float8 AS "valueBytes", codecs, key_id AS "keyId",
  expires_at <= now() AS expired`;
const RECORD_PREPARED = statement(
  "record-prepared-upload",
  `INSERT INTO storage_intent (id, kind, handler_type, handler_config, handle, size_bytes, project_id, task_run_id,
     expires_at, uploaded_at, sha256, codecs)
   VALUES ($1, 'write', $2::"HandlerType", $3, $4, $5, $6, $7, now() + make_interval(secs => $8::float8),
     CASE WHEN $9::bool THEN now() END, $10, $11::text[])
   RETURNING expires_at AS "expiresAt"`,
);
// Single use: the first PUT of a token takes its intent; any other finds it taken, or gone.
const CLAIM_UPLOAD = statement(
  "claim-prepared-upload",
  `UPDATE storage_intent SET uploaded_at = now()
   WHERE id = $1 AND project_id = $2 AND task_run_id = $3 AND handle = $4 AND uploaded_at IS NULL AND expires_at > now()
   RETURNING ${PREPARED_COLUMNS}`,
);
const COMPLETE_UPLOAD = statement(
  "complete-prepared-upload",
  `UPDATE storage_intent SET sha256 = $2, size_bytes = $3, value_bytes = $4, codecs = $5::text[], key_id = $6
   WHERE id = $1`,
);
const PREPARED_BY_HANDLES = statement(
  "prepared-uploads-by-handle",
  `SELECT ${PREPARED_COLUMNS} FROM storage_intent WHERE handle = ANY($1::text[]) AND task_run_id IS NOT NULL`,
);

// Runs whose every task run is in a final state, the last of those states older than their
// flow's retention (or the server's, $1), oldest first. A run with no task runs ended when made.
const EXPIRED_RUNS = statement(
  "expired-runs",
  `SELECT fr.id::text, f.project_id::text AS "projectId"
   FROM flow_run fr JOIN flow f ON f.id = fr.flow_id
   CROSS JOIN LATERAL (SELECT make_interval(days => coalesce(f.retention_days, $1::int)) AS kept) k
   WHERE k.kept IS NOT NULL AND ($3::uuid IS NULL OR fr.id = $3::uuid)
     -- A run cannot end before it starts: most runs are ruled out here, without their states.
     AND fr.created_at < now() - k.kept
     AND NOT EXISTS (
       SELECT 1 FROM task_run t JOIN state s ON s.task_run_id = t.id AND s.version = t.version
       WHERE t.flow_run_id = fr.id AND s.type NOT IN ('SUCCESS', 'FAILED', 'CANCELLED', 'CACHED', 'SKIPPED'))
     AND coalesce(
       (SELECT max(s.created_at) FROM task_run t JOIN state s ON s.task_run_id = t.id WHERE t.flow_run_id = fr.id),
       fr.created_at) < now() - k.kept
   ORDER BY fr.created_at LIMIT $2`,
);

// One replica at a time runs a retention pass: a session-level advisory lock, released when the
// pass ends or its connection does (a crash).
const RETENTION_LOCK = [0x48414e44, 1] as const;

/** An object about to be written: recorded before it is, so that a crash cannot leave it unknown. */
export interface WriteIntent {
  handlerType: HandlerType;
  handlerConfig: Record<string, unknown>;
  handle: string;
  sizeBytes: number;
}

/** A task run not at the version a batch gives for it: `current` null when it is not there. */
export interface StaleTaskRun {
  taskRunId: string;
  current: number | null;
}

/** An upload prepared for a task run (prepareResultUpload, or a body streamed through the API). */
export interface PreparedUpload extends Omit<WriteIntent, "sizeBytes"> {
  id: string;
  /** The size the client declared, if it did. */
  sizeBytes: number | null;
  taskRunId: string;
  /** The codecs the server will apply to bytes that come through it. */
  codecs: readonly string[];
  /** Sets it as taken at once (an upload through the API, not by token). */
  uploaded?: boolean;
  /** The SHA-256 the client says the bytes have, when it said. */
  sha256?: string | null;
}

/** A prepared upload's intent, as recorded. */
export interface PreparedIntent extends IntentRow {
  taskRunId: string;
  expiresAt: Date;
  /** When its bytes came through the API; null for an upload straight to the store. */
  uploadedAt: Date | null;
  expired: boolean;
  /** The SHA-256 of the stored bytes: declared, or seen by the server when they came through it. */
  sha256: string | null;
  /** The size of the value before codecs, when the server applied any. */
  valueBytes: number | null;
  codecs: string[];
  keyId: string | null;
}

/** What the server learnt of an upload's bytes as they came through it. */
export interface UploadOutcome {
  sha256: string;
  storedBytes: number;
  valueBytes: number;
  codecs: readonly string[];
  keyId: string | null;
}

/** One claimed intent, to settle while its row stays locked. */
export interface ClaimedIntent extends IntentRow {
  /** Whether a result points at its handle again (recorded since): then the object is kept. */
  referenced: boolean;
}

export type LifecycleQueries = ReturnType<typeof lifecycleQueries>;

/** A batch intent's objects, as its `objects` column keeps them (see BATCH_OBJECTS). */
function objectsJson(objects: readonly WriteIntent[]): string {
  return JSON.stringify(
    objects.map((o) => ({
      handler_type: o.handlerType,
      handler_config: o.handlerConfig,
      handle: o.handle,
      size_bytes: o.sizeBytes,
    })),
  );
}

/** Deletion of runs and flows, and the intents that finish it in storage. */
export function lifecycleQueries(pool: pg.Pool) {
  /** Runs `work` in a transaction on one connection: committed when it resolves, rolled back if it throws. */
  async function transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async function deleteRuns(client: pg.PoolClient, projectId: string, runIds: string[]) {
    // Their task runs first: a batch recording states for one commits before the results are
    // gathered (and its result goes too), or waits and then finds the task run gone.
    await client.query({ ...LOCK_TASK_RUNS, values: [runIds] });
    const { rows: candidates } = await client.query<{ id: string }>({ ...CANDIDATES, values: [runIds] });
    const deleted = await client.query({ ...DELETE_RUNS, values: [runIds] });
    const { rows } = await client.query<{ results: number; intents: IntentRow[] }>({
      ...DELETE_RESULTS,
      values: [candidates.map((c) => c.id), projectId],
    });
    return { flowRuns: deleted.rowCount ?? 0, results: rows[0]!.results, intents: rows[0]!.intents };
  }

  return {
    /** Up to `limit` runs past their retention (see EXPIRED_RUNS), oldest first. */
    async expiredRuns(defaultDays: number | null, limit: number): Promise<{ id: string; projectId: string }[]> {
      const { rows } = await pool.query<{ id: string; projectId: string }>({
        ...EXPIRED_RUNS,
        values: [defaultDays, limit, null],
      });
      return rows;
    },

    /** Runs `work` holding the retention lock; null, without running it, when another holds it. */
    async withRetentionLock<T>(work: () => Promise<T>): Promise<T | null> {
      const client = await pool.connect();
      try {
        const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS locked", [
          ...RETENTION_LOCK,
        ]);
        if (!rows[0]!.locked) return null;
        try {
          return await work();
        } finally {
          await client.query("SELECT pg_advisory_unlock($1, $2)", [...RETENTION_LOCK]);
        }
      } finally {
        client.release();
      }
    },

    /**
     * Records the intent `id` of the objects a batch is about to write for a project's results,
     * in one row. With `expected` (the task runs of the batch, at the versions it gives), only
     * when each is still there at that version; otherwise nothing is recorded and those that are
     * not are returned, `current` null for one not there (or of another project).
     */
    async recordBatchIntent(
      { projectId }: Scope,
      id: string,
      objects: readonly WriteIntent[],
      expected?: readonly { taskRunId: string; version: number }[],
    ): Promise<StaleTaskRun[]> {
      const values = [id, objectsJson(objects), projectId];
      if (!expected) {
        await pool.query({ ...RECORD_BATCH_INTENT, values });
        return [];
      }
      const { rows } = await pool.query<StaleTaskRun>({
        ...RECORD_BATCH_INTENT_IF_CURRENT,
        values: [...values, expected.map((e) => e.taskRunId), expected.map((e) => e.version)],
      });
      return rows;
    },

    /** For a batch that recorded nothing: removes its intent, or keeps in it only the objects `left`. */
    async settleBatchIntent(id: string, left: readonly WriteIntent[]): Promise<void> {
      await pool.query(
        left.length === 0
          ? { ...REMOVE_BATCH_INTENT, values: [id] }
          : { ...KEEP_BATCH_OBJECTS, values: [id, objectsJson(left)] },
      );
    },

    /** Records a prepared upload's intent, expiring in `expiresInSeconds`; resolves to when it expires. */
    async recordPreparedUpload({ projectId }: Scope, upload: PreparedUpload, expiresInSeconds: number): Promise<Date> {
      const { rows } = await pool.query<{ expiresAt: Date }>({
        ...RECORD_PREPARED,
        values: [
          upload.id,
          upload.handlerType,
          JSON.stringify(upload.handlerConfig),
          upload.handle,
          upload.sizeBytes,
          projectId,
          upload.taskRunId,
          expiresInSeconds,
          upload.uploaded ?? false,
          upload.sha256 ?? null,
          upload.codecs,
        ],
      });
      return rows[0]!.expiresAt;
    },

    /**
     * Takes a prepared upload for its bytes: null when it is not there (swept, or never made),
     * expired, already taken, or not for that project, task run and handle.
     */
    async claimUpload(
      id: string,
      claims: { projectId: string; taskRunId: string; handle: string },
    ): Promise<PreparedIntent | null> {
      const { rows } = await pool.query<PreparedIntent>({
        ...CLAIM_UPLOAD,
        values: [id, claims.projectId, claims.taskRunId, claims.handle],
      });
      return rows[0] ?? null;
    },

    /** Keeps what the server learnt of an upload's bytes, for the state that records it. */
    async completeUpload(id: string, outcome: UploadOutcome): Promise<void> {
      await pool.query({
        ...COMPLETE_UPLOAD,
        values: [id, outcome.sha256, outcome.storedBytes, outcome.valueBytes, outcome.codecs, outcome.keyId],
      });
    },

    /** The prepared uploads of these handles, whatever their project or task run. */
    async preparedUploads(handles: readonly string[]): Promise<PreparedIntent[]> {
      if (handles.length === 0) return [];
      const { rows } = await pool.query<PreparedIntent>({ ...PREPARED_BY_HANDLES, values: [handles] });
      return rows;
    },

    /** Removes intents whose objects are known gone (or never written). */
    async removeIntents(ids: readonly string[]): Promise<void> {
      if (ids.length > 0) await pool.query({ ...REMOVE_INTENTS, values: [ids] });
    },

    /**
     * Deletes a flow run of the caller's project with its task runs, states, cached inputs and
     * the results no other row keeps, and writes a delete intent for each object no remaining
     * result points at, all in one transaction. Null when there is no such run.
     */
    async deleteFlowRun(
      { projectId }: Scope,
      id: string,
      options: { onlyIfExpired?: { defaultDays: number | null } } = {},
    ): Promise<DeletedRows | null> {
      return transaction(async (client) => {
        const { rows } = await client.query<{ id: string }>({ ...RUNS_IN_SCOPE, values: [[id], projectId] });
        if (rows.length === 0) return null;
        if (options.onlyIfExpired) {
          // Checked again with its task runs locked: a state recorded since the run was found
          // expired keeps it (and a batch that comes later finds it gone, and records nothing).
          await client.query({ ...LOCK_TASK_RUNS, values: [[id]] });
          const expired = await client.query({
            ...EXPIRED_RUNS,
            values: [options.onlyIfExpired.defaultDays, 1, id],
          });
          if (expired.rowCount === 0) return null;
        }
        return { flows: 0, ...(await deleteRuns(client, projectId, [id])) };
      });
    },

    /** As deleteFlowRun, for a flow and all its runs. Null when there is no such flow. */
    async deleteFlow({ projectId }: Scope, id: string): Promise<DeletedRows | null> {
      return transaction(async (client) => {
        // The flow is locked first: a run created while it is deleted waits, then finds it gone.
        const locked = await client.query({ ...LOCK_FLOW, values: [id, projectId] });
        if (locked.rowCount === 0) return null;
        const { rows } = await client.query<{ id: string }>({ ...RUNS_OF_FLOW, values: [id, projectId] });
        const removed = await deleteRuns(
          client,
          projectId,
          rows.map((r) => r.id),
        );
        await client.query({ ...DELETE_FLOW, values: [id] });
        return { ...removed, flows: 1 };
      });
    },

    /**
     * Claims up to `limit` intents due: every delete intent, and write intents at least
     * `olderThanSeconds` old (only those of `ids`, when given; none of `exclude`), locked so no
     * other sweeper takes them, and hands each to `settle` (which deletes its object) in the same
     * transaction; an intent whose `settle` resolves is removed, one whose `settle` throws stays
     * for a later sweep. Without `ids`, batch intents as old are first split into write intents
     * of their objects. Resolves to how many were claimed.
     */
    async sweepIntents(
      options: { ids?: string[]; exclude: string[]; olderThanSeconds: number; limit: number },
      settle: (intent: ClaimedIntent) => Promise<void>,
    ): Promise<number> {
      return transaction(async (client) => {
        if (!options.ids) {
          await client.query({ ...SPLIT_DUE_BATCHES, values: [options.olderThanSeconds, options.limit] });
        }
        const { rows } = await client.query<ClaimedIntent>({
          ...CLAIM_INTENTS,
          values: [options.ids ?? null, options.olderThanSeconds, options.limit, options.exclude],
        });
        for (const intent of rows) {
          try {
            await settle(intent);
          } catch {
            continue; // settle reported it; the intent stays
          }
          await client.query({ ...REMOVE_INTENT, values: [intent.id] });
        }
        return rows.length;
      });
    },

    /** The intents a sweep would claim, without claiming them (a dry run). */
    async pendingIntents(olderThanSeconds: number): Promise<ClaimedIntent[]> {
      const { rows } = await pool.query<ClaimedIntent>({ ...PENDING_INTENTS, values: [olderThanSeconds] });
      return rows;
    },
  };
}
