import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { CreateFlow, CreateFlowRun, SetTaskRunStates } from "../support/documents.js";
import { type ServiceProcess, startServiceProcess } from "../support/process.js";

// Runs that ended longer ago than their flow's retentionDays are deleted by a background pass,
// results and files with them. Two replicas share one database: a pass runs in one of them at a
// time, and each run is deleted once.

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe("retention", () => {
  it("deletes the runs that ended too long ago, in one replica at a time, and keeps every other", async () => {
    const database = await createTestDatabase();
    const dir = await mkdtemp(join(tmpdir(), "handled-retention-"));
    const env = {
      DATABASE_URL: database.url,
      HANDLED_LOCAL_DIRS: dir,
      HANDLED_GC_INTERVAL: "0",
      HANDLED_RETENTION_INTERVAL: "100ms",
      // Two runs a pass, slowly: the replicas' passes overlap in time, and only one may run.
      HANDLED_RETENTION_BATCH_SIZE: "2",
      HANDLED_RETENTION_PAUSE: "150ms",
      LOG_LEVEL: "debug",
    };
    const replicas: ServiceProcess[] = [];
    const sql = new pg.Client({ connectionString: database.url });
    try {
      replicas.push(await startServiceProcess(env), await startServiceProcess(env));
      const [a] = replicas as [ServiceProcess, ServiceProcess];
      await sql.connect();
      const handler = { type: "LOCAL" as const, dir };
      const makeRuns = async (name: string, retentionDays: number | undefined, runs: number, done: boolean) => {
        const { createFlow } = await a.ok(CreateFlow, {
          input: { name, handler, retentionDays, tasks: [{ name: "t" }] },
        });
        const made: { id: string; file?: string }[] = [];
        for (let i = 0; i < runs; i++) {
          const { createFlowRun } = await a.ok(CreateFlowRun, { input: { flowId: createFlow.id } });
          const taskRunId = createFlowRun.taskRuns.nodes[0]!.id;
          const { setTaskRunStates } = await a.ok(SetTaskRunStates, {
            input: [
              {
                taskRunId,
                version: 1,
                state: done ? { type: "SUCCESS", result: { value: { name, i } } } : { type: "RUNNING" },
              },
            ],
          });
          const result = setTaskRunStates[0]!.state.result;
          made.push({ id: createFlowRun.id, file: result.__typename === "Result" ? result.handle : undefined });
        }
        return { flowId: createFlow.id, runs: made };
      };
      const expired = await makeRuns("kept-a-week", 7, 5, true);
      const running = await makeRuns("kept-a-week-running", 7, 1, false);
      const recent = await makeRuns("kept-a-week-recent", 7, 1, true);
      const forever = await makeRuns("kept-forever", undefined, 2, true);
      expect(expired.runs.every((run) => run.file !== undefined)).toBe(true);

      // Eight days pass for every run but the recent one.
      const aged = [expired, running, forever].map((flow) => flow.flowId);
      await sql.query(
        `UPDATE state s SET created_at = s.created_at - interval '8 days' FROM task_run t, flow_run fr
         WHERE t.id = s.task_run_id AND fr.id = t.flow_run_id AND fr.flow_id = ANY($1::uuid[])`,
        [aged],
      );
      await sql.query(
        `UPDATE flow_run SET created_at = created_at - interval '8 days' WHERE flow_id = ANY($1::uuid[])`,
        [aged],
      );

      const runsLeft = async () =>
        (await sql.query<{ id: string }>(`SELECT id::text FROM flow_run`)).rows.map((row) => row.id).sort();
      const deadline = Date.now() + 20_000;
      while ((await runsLeft()).length > 4 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // A few more passes: nothing else goes.
      await new Promise((resolve) => setTimeout(resolve, 500));

      expect(await runsLeft()).toEqual([...running.runs, ...recent.runs, ...forever.runs].map((run) => run.id).sort());
      for (const run of expired.runs) expect(await exists(run.file!)).toBe(false);
      for (const run of [...recent.runs, ...forever.runs]) expect(await exists(run.file!)).toBe(true);

      const deleted = replicas.map((replica) =>
        replica
          .logs()
          .filter((line) => line.msg === "retention deleted runs past their time")
          .reduce((sum, line) => sum + (line.deletedRuns as number), 0),
      );
      const skipped = replicas.map(
        (replica) =>
          replica.logs().filter((line) => line.msg === "retention pass skipped: another replica is running one").length,
      );
      // Each run deleted once, in whichever replica held the pass; the other waited its turn.
      expect(deleted[0]! + deleted[1]!).toBe(5);
      expect(skipped[0]! + skipped[1]!).toBeGreaterThan(0);
      for (const replica of replicas) {
        expect(replica.logs().filter((line) => line.level >= 50)).toEqual([]);
      }
    } finally {
      await sql.end().catch(() => undefined);
      for (const replica of replicas) await replica.kill();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
