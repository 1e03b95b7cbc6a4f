// Statements the ceilings run with plain `pg`, in the benchmark and in the Apollo ceiling server.

/** A flow run's task runs, in task order, with their current states' results. */
export const FLOW_RUN_RESULTS_SQL = `
  SELECT t.id, t.version, s.type, r.handler_type, r.handler_config, r.handle, r.handled
  FROM task_run t JOIN task k ON k.id = t.task_id
  JOIN state s ON s.task_run_id = t.id AND s.version = t.version
  LEFT JOIN result r ON r.id = s.result_id
  WHERE t.flow_run_id = $1 ORDER BY k.position`;

/**
 * What a batch of states stores, straight into PostgreSQL: for each task run ($1, at version
 * $2), the version bump, the result row (handle $5) and the state row (ids $3 and $4).
 */
export const MULTI_ROW_SQL = `
  WITH given AS (
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::uuid[], $5::text[])
           AS g(task_run_id, version, state_id, result_id, handle)),
       bumped AS (UPDATE task_run t SET version = t.version + 1 FROM given g WHERE t.id = g.task_run_id AND t.version = g.version),
       r AS (INSERT INTO result (id, handler_type, handler_config, handle)
             SELECT result_id, 'JSON', '{"type":"JSON"}', handle FROM given)
  INSERT INTO state (id, task_run_id, version, type, result_id)
  SELECT state_id, task_run_id, version + 1, 'SUCCESS', result_id FROM given`;
