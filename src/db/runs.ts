import type pg from "pg";
import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import type { FlowRunRow, FlowRunState, HandlerType, Scope, Tagged } from "./rows.js";
import { FLOW_RUN_STATE, statement } from "./sql.js";

/** A result a new flow run starts with: a parameter's value, already handled. */
export interface NewParameterResult {
  handlerType: HandlerType;
  handlerConfig: Record<string, unknown>;
  handle: string;
  sizeBytes: number;
  /** SHA-256 of the stored bytes, hex. */
  sha256: string | null;
}

/** Where a page of a flow's runs starts: after this run, newest first. */
export interface RunCursor {
  createdAt: string;
  id: string;
}

const STATES = statement(
  "flow-run-states",
  `SELECT t.flow_run_id::text AS id, ${FLOW_RUN_STATE} AS state
   FROM task_run t JOIN state s ON s.task_run_id = t.id AND s.version = t.version
   WHERE t.flow_run_id = ANY($1::uuid[]) GROUP BY t.flow_run_id`,
);

const OF_FLOWS = statement(
  "flow-runs-of-flows",
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
);

const BY_IDS = statement(
  "flow-runs-by-ids",
  `SELECT fr.id::text, fr.flow_id::text AS "flowId", fr.created_at AS "createdAt"
   FROM flow_run fr JOIN flow f ON f.id = fr.flow_id
   WHERE fr.id = ANY($1::uuid[]) AND f.project_id = $2::uuid`,
);

/** Flow runs: creating them, finding them, and their states. */
export function runQueries(prisma: PrismaClient, pool: pg.Pool) {
  return {
    /** The flow runs of `ids` in the caller's project: another project's are not found. */
    async byIds({ projectId }: Scope, ids: readonly string[]): Promise<FlowRunRow[]> {
      const { rows } = await pool.query<FlowRunRow>({ ...BY_IDS, values: [ids, projectId] });
      return rows;
    },

    /** The state of each flow run given that has task runs (a run without any is done: SUCCESS). */
    async states(ids: readonly string[]): Promise<{ id: string; state: FlowRunState }[]> {
      const { rows } = await pool.query<{ id: string; state: FlowRunState }>({ ...STATES, values: [ids] });
      return rows;
    },

    /**
     * Up to `limit` runs of each flow in `flowIds`, newest first, after `after`, only those in
     * `state` when given; each with its state, and tagged with its flow.
     */
    async ofFlows(
      flowIds: readonly string[],
      limit: number,
      after: RunCursor | null,
      state: FlowRunState | null,
    ): Promise<Tagged<FlowRunRow>[]> {
      const { rows } = await pool.query<{
        parent: string;
        id: string;
        flowId: string;
        createdAt: Date;
        state: FlowRunState;
      }>({ ...OF_FLOWS, values: [flowIds, after?.createdAt ?? null, after?.id ?? null, state, limit] });
      return rows.map((row) => ({
        parent: row.parent,
        id: row.id,
        flowId: row.flowId,
        createdAt: row.createdAt,
        loadedState: row.state,
      }));
    },

    /**
     * Creates a run of a flow: one task run per task, each at version 1. Tasks given a result in
     * `parameters` (by task id) start in SUCCESS with it; every other starts PENDING with none.
     */
    create(
      flowId: string,
      taskIds: readonly string[],
      parameters: ReadonlyMap<string, NewParameterResult>,
    ): Promise<FlowRunRow> {
      return prisma.flowRun.create({
        data: {
          flowId,
          taskRuns: {
            create: taskIds.map((taskId) => {
              const result = parameters.get(taskId);
              return {
                taskId,
                version: 1,
                states: {
                  create: {
                    version: 1,
                    type: result ? "SUCCESS" : "PENDING",
                    message: result ? "Parameter value given when the run was created." : null,
                    result: result
                      ? {
                          create: {
                            ...result,
                            handlerConfig: result.handlerConfig as Prisma.InputJsonObject,
                            handled: true,
                          },
                        }
                      : undefined,
                  },
                },
              };
            }),
          },
        },
      });
    },
  };
}

export type RunQueries = ReturnType<typeof runQueries>;
