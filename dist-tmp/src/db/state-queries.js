/**
 * Loads the task runs with the given ids (those not found are left out) with their task's and
 * flow's handlers. For those also in `withLatestResult`, the latest result is loaded too.
 */
export async function loadTaskRunsForChange(prisma, ids, withLatestResult) {
    const rows = await prisma.$queryRaw `
    SELECT t.id::text, t.flow_run_id::text, t.task_id::text, t.version,
           k.is_parameter, k.handler_type::text AS task_handler_type, k.handler_config AS task_handler_config,
           f.handler_type::text AS flow_handler_type, f.handler_config AS flow_handler_config,
           CASE WHEN t.id = ANY(${withLatestResult}::uuid[]) THEN (
             SELECT s.result_id::text FROM state s
             WHERE s.task_run_id = t.id AND s.result_id IS NOT NULL
             ORDER BY s.version DESC LIMIT 1
           ) END AS latest_result_id
    FROM task_run t JOIN task k ON k.id = t.task_id JOIN flow f ON f.id = k.flow_id
    WHERE t.id = ANY(${ids}::uuid[])`;
    return new Map(rows.map((row) => [
        row.id,
        {
            id: row.id,
            flowRunId: row.flow_run_id,
            taskId: row.task_id,
            version: row.version,
            task: { isParameter: row.is_parameter, handlerType: row.task_handler_type, handlerConfig: row.task_handler_config },
            flow: { handlerType: row.flow_handler_type, handlerConfig: row.flow_handler_config },
            latestResultId: row.latest_result_id,
        },
    ]));
}
/**
 * Records a batch in one statement, all or nothing: it locks the task runs, and only if every
 * one is still at the version given does it bump them and insert the results, states and
 * cached inputs. Locking first makes the check see versions committed after the statement
 * began, so two batches racing for one task run cannot both pass.
 */
export async function recordStateBatch(prisma, batch) {
    const { changes, results, cachedInputs } = batch;
    const column = (rows, key) => rows.map((row) => row[key]);
    const rows = await prisma.$queryRaw `
    WITH given AS (
      SELECT * FROM unnest(${column(changes, "taskRunId")}::uuid[], ${column(changes, "version")}::int[]) AS g(id, version)
    ), locked AS (
      SELECT t.id, t.version FROM task_run t WHERE t.id IN (SELECT id FROM given) FOR UPDATE
    ), checked AS (
      SELECT count(*) = ${changes.length} AS ok FROM locked JOIN given USING (id, version)
    ), bumped AS (
      UPDATE task_run t SET version = t.version + 1 FROM given
      WHERE t.id = given.id AND (SELECT ok FROM checked)
    ), new_results AS (
      INSERT INTO result (id, handler_type, handler_config, handle, handled)
      SELECT id, handler_type::"HandlerType", handler_config, handle, true
      FROM unnest(${column(results, "id")}::uuid[], ${column(results, "handlerType")}::text[],
                  ${results.map((r) => JSON.stringify(r.handlerConfig))}::jsonb[], ${column(results, "handle")}::text[])
        AS r(id, handler_type, handler_config, handle)
      WHERE (SELECT ok FROM checked)
    ), new_states AS (
      INSERT INTO state (id, task_run_id, version, type, message, result_id)
      SELECT id, task_run_id, version + 1, type::"StateType", message, result_id
      FROM unnest(${column(changes, "stateId")}::uuid[], ${column(changes, "taskRunId")}::uuid[], ${column(changes, "version")}::int[],
                  ${column(changes, "type")}::text[], ${column(changes, "message")}::text[], ${column(changes, "resultId")}::uuid[])
        AS s(id, task_run_id, version, type, message, result_id)
      WHERE (SELECT ok FROM checked)
    ), new_cached_inputs AS (
      INSERT INTO cached_input (id, state_id, name, upstream_task_run_id, result_id)
      SELECT gen_random_uuid(), state_id, name, upstream_task_run_id, result_id
      FROM unnest(${column(cachedInputs, "stateId")}::uuid[], ${column(cachedInputs, "name")}::text[],
                  ${column(cachedInputs, "upstreamTaskRunId")}::uuid[], ${column(cachedInputs, "resultId")}::uuid[])
        AS c(state_id, name, upstream_task_run_id, result_id)
      WHERE (SELECT ok FROM checked)
    )
    SELECT given.id::text, locked.version, given.version AS wanted, (SELECT ok FROM checked) AS recorded
    FROM given LEFT JOIN locked USING (id)`;
    if (rows[0]?.recorded)
        return { recorded: true };
    const stale = rows.find((row) => row.version !== row.wanted);
    return { recorded: false, stale: { taskRunId: stale?.id ?? changes[0].taskRunId, current: stale?.version ?? null } };
}
//# sourceMappingURL=state-queries.js.map