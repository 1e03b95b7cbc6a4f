import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordStateBatch, resolveBatchCommit, type StateBatch } from "../../src/db/states.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { startRun } from "../support/flows.js";

// The fence that makes a batch's outcome knowable: once the server has asked, the answer holds,
// even against a recording statement still on its way to PostgreSQL or still running there.
describe("a batch's commit fence", () => {
  let t: TestApp;
  let pool: pg.Pool;
  beforeAll(async () => {
    t = await startTestApp();
    pool = new pg.Pool({ connectionString: t.app.database.url, max: 4 });
  });
  afterAll(async () => {
    await pool.end();
    await t.stop();
  });

  async function batchFor(name: string): Promise<StateBatch> {
    const run = await startRun(t, { name, tasks: [{ name: "a" }] });
    return {
      id: randomUUID(),
      changes: [
        {
          taskRunId: run.taskRuns.a!.id,
          version: 1,
          stateId: randomUUID(),
          type: "RUNNING",
          message: null,
          resultId: null,
          idempotencyKey: null,
        },
      ],
      results: [],
      cachedInputs: [],
      batchIntentId: null,
      intentIds: [],
      notices: [],
    };
  }

  const states = (batch: StateBatch) =>
    t
      .sql(`SELECT count(*)::int AS n FROM state WHERE task_run_id = $1`, [batch.changes[0]!.taskRunId])
      .then((rows) => rows[0]!.n as number);

  it("knows a recorded batch as recorded", async () => {
    const batch = await batchFor("recorded");
    expect(await recordStateBatch(pool, batch)).toEqual({ recorded: true });

    expect(await resolveBatchCommit(pool, batch.id)).toBe("recorded");
    expect(await resolveBatchCommit(pool, batch.id)).toBe("recorded");
  });

  it("makes a batch given up on fail when its statement arrives later, recording nothing", async () => {
    const batch = await batchFor("late");
    expect(await resolveBatchCommit(pool, batch.id)).toBe("not-recorded");

    await expect(recordStateBatch(pool, batch)).rejects.toMatchObject({
      code: "23505",
      constraint: "batch_commit_pkey",
    });
    expect(await states(batch)).toBe(1);
    expect(await resolveBatchCommit(pool, batch.id)).toBe("not-recorded");
  });

  for (const [ending, outcome] of [
    ["COMMIT", "recorded"],
    ["ROLLBACK", "not-recorded"],
  ] as const) {
    it(`waits for a recording statement still running, and learns it was ${outcome} when it ends with ${ending}`, async () => {
      const batch = await batchFor(`running-${ending}`);
      const orphan = await pool.connect();
      try {
        await orphan.query("BEGIN");
        await orphan.query(`INSERT INTO batch_commit (id, recorded) VALUES ($1, true)`, [batch.id]);

        const asked = resolveBatchCommit(pool, batch.id);
        let settled = false;
        void asked.then(() => (settled = true));
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(settled).toBe(false);
        await orphan.query(ending);

        expect(await asked).toBe(outcome);
      } finally {
        orphan.release();
      }
    });
  }
});
