import type pg from "pg";
import type { ParameterRow, Scope, Tagged, TaskRunRow } from "./rows.js";
import {
  RESULT_COLUMNS,
  type ResultColumns,
  resultFromColumns,
  statement,
  TASK_RUN_COLUMNS,
  TASK_RUN_JOINS,
  type TaskRunColumns,
  taskRunFromColumns,
} from "./sql.js";

const BY_IDS = statement(
  "task-runs-by-ids",
  `SELECT ${TASK_RUN_COLUMNS} ${TASK_RUN_JOINS}
   JOIN flow f ON f.id = k.flow_id AND f.project_id = $2
   WHERE t.id = ANY($1::uuid[])`,
);

const OF_FLOW_RUNS = statement(
  "task-runs-of-flow-runs",
  `SELECT p.parent::text AS parent, x.* FROM unnest($1::uuid[]) AS p(parent)
   CROSS JOIN LATERAL (
     SELECT ${TASK_RUN_COLUMNS} ${TASK_RUN_JOINS}
     WHERE t.flow_run_id = p.parent AND k.position > $2
     ORDER BY k.position
     LIMIT $3
   ) x`,
);

// A parameter's value is the result of its first state, given when the run was created.
const PARAMETERS_OF = statement(
  "parameters-of-flow-runs",
  `SELECT t.id::text, t.flow_run_id::text AS "flowRunId", t.task_id::text AS "taskId", t.version, k.name, ${RESULT_COLUMNS}
   FROM task_run t
   JOIN task k ON k.id = t.task_id AND k.is_parameter
   JOIN state s ON s.task_run_id = t.id AND s.version = 1
   LEFT JOIN result r ON r.id = s.result_id
   WHERE t.flow_run_id = ANY($1::uuid[])
   ORDER BY k.position`,
);

/** Task runs, each read with its current state and that state's result. */
export function taskRunQueries(pool: pg.Pool) {
  return {
    /** Task runs of the scope's project by id (through their task's flow). */
    async byIds({ projectId }: Scope, ids: readonly string[]): Promise<TaskRunRow[]> {
      const { rows } = await pool.query<TaskRunColumns>({ ...BY_IDS, values: [ids, projectId] });
      return rows.map(taskRunFromColumns);
    },

    /** Up to `limit` task runs of each flow run in `flowRunIds`, in task order after position `after`, tagged with their flow run. */
    async ofFlowRuns(
      flowRunIds: readonly string[],
      limit: number,
      after: number | null,
    ): Promise<Tagged<TaskRunRow>[]> {
      const { rows } = await pool.query<TaskRunColumns & { parent: string }>({
        ...OF_FLOW_RUNS,
        values: [flowRunIds, after ?? -1, limit],
      });
      return rows.map((row) => ({ ...taskRunFromColumns(row), parent: row.parent }));
    },

    /** The parameters of the given flow runs, in task order, each with the result its run was created with. */
    async parametersOf(flowRunIds: readonly string[]): Promise<ParameterRow[]> {
      const { rows } = await pool.query<
        ResultColumns & { id: string; flowRunId: string; taskId: string; version: number; name: string }
      >({ ...PARAMETERS_OF, values: [flowRunIds] });
      return rows.map((row) => ({
        name: row.name,
        taskRun: { id: row.id, flowRunId: row.flowRunId, taskId: row.taskId, version: row.version },
        result: resultFromColumns(row),
      }));
    },
  };
}

export type TaskRunQueries = ReturnType<typeof taskRunQueries>;
