import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HandledApiError } from "@handled/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  CreateFlowRun,
  FlowRunsChanged,
  GetTaskRun,
  SetTaskRunStates,
  TaskRunStateChanged,
} from "../support/documents.js";
import { startRun } from "../support/flows.js";
import { type ServiceProcess, startServiceProcess } from "../support/process.js";
import { subscribed } from "../support/subscriptions.js";

// The service keeps no state of its own: two processes on one database (and one results
// folder, standing in for one bucket) serve the same runs, as replicas behind a load balancer.

/** Each task run's version and value, read through one replica. */
async function valuesThrough(
  replica: ServiceProcess,
  taskRunIds: string[],
): Promise<{ version: number; value: unknown }[]> {
  return Promise.all(
    taskRunIds.map(async (id) => {
      const { taskRun } = await replica.ok(GetTaskRun, { id });
      const result = taskRun!.state.result;
      return { version: taskRun!.version, value: result.__typename === "Result" ? result.value : "no result" };
    }),
  );
}

describe("two replicas on one database", () => {
  let database: TestDatabase;
  let results: string;
  let a: ServiceProcess;
  let b: ServiceProcess;
  beforeAll(async () => {
    database = await createTestDatabase();
    results = await mkdtemp(join(tmpdir(), "handled-replicas-"));
    const env = { DATABASE_URL: database.url, HANDLED_DEFAULT_HANDLER_DIR: results };
    // Both start at once: migrations are applied once, under Prisma's lock.
    [a, b] = await Promise.all([startServiceProcess(env), startServiceProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()]);
    await database.drop();
    await rm(results, { recursive: true, force: true });
  });

  it("read through one what was written through the other", async () => {
    const run = await startRun(a, { name: "replicated", tasks: [{ name: "x" }, { name: "y" }] });
    await a.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: run.taskRuns.x!.id,
          version: 1,
          state: { type: "SUCCESS", result: { value: { from: "a", n: 1 } } },
        },
        { taskRunId: run.taskRuns.y!.id, version: 1, state: { type: "SUCCESS", result: { value: [1, 2, 3] } } },
      ],
    });
    expect(await valuesThrough(b, [run.taskRuns.x!.id, run.taskRuns.y!.id])).toEqual([
      { version: 2, value: { from: "a", n: 1 } },
      { version: 2, value: [1, 2, 3] },
    ]);
  });

  it("deliver a state written through one to subscribers of the other", async () => {
    const run = await startRun(a, { name: "watched-across", tasks: [{ name: "x" }] });
    const onB = await subscribed(b.client, TaskRunStateChanged, { flowRunId: run.flowRunId });
    const runsOnA = await subscribed(a.client, FlowRunsChanged, { flowId: run.flowId });
    try {
      await a.ok(SetTaskRunStates, {
        input: [{ taskRunId: run.taskRuns.x!.id, version: 1, state: { type: "SUCCESS", result: { value: "from a" } } }],
      });
      const event = await onB.until((e) => e.taskRunStateChanged.version === 2);
      expect(event.taskRunStateChanged.state).toMatchObject({ type: "SUCCESS", result: { __typename: "Result" } });
      // And back: a run created through B reaches A's subscriber.
      const { createFlowRun } = await b.ok(CreateFlowRun, { input: { flowId: run.flowId } });
      await runsOnA.until((e) => e.flowRunsChanged.id === createFlowRun.id);
    } finally {
      onB.stop();
      runsOnA.stop();
    }
  });

  it("respect versions across both: of concurrent batches on the same task runs, one wins whole", async () => {
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      const run = await startRun(b, { name: `raced-${round}`, tasks: [{ name: "x" }, { name: "y" }] });
      const batch = (from: string) => ({
        input: [
          { taskRunId: run.taskRuns.x!.id, version: 1, state: { type: "SUCCESS" as const, result: { value: from } } },
          { taskRunId: run.taskRuns.y!.id, version: 1, state: { type: "SUCCESS" as const, result: { value: from } } },
        ],
      });
      const outcomes = await Promise.all(
        [a, b].map((replica, i) =>
          replica.ok(SetTaskRunStates, batch(i === 0 ? "a" : "b")).then(
            () => (i === 0 ? "a" : "b"),
            (error: unknown) => (error instanceof HandledApiError ? error.errors[0]?.extensions?.code : String(error)),
          ),
        ),
      );
      expect(outcomes.filter((outcome) => outcome === "a" || outcome === "b")).toHaveLength(1);
      expect(outcomes).toContain("VERSION_MISMATCH");
      const winner = outcomes.find((outcome) => outcome === "a" || outcome === "b");
      // Read through the replica that lost: both task runs hold the winner's values, at version 2.
      const loser = winner === "a" ? b : a;
      expect(await valuesThrough(loser, [run.taskRuns.x!.id, run.taskRuns.y!.id])).toEqual([
        { version: 2, value: winner },
        { version: 2, value: winner },
      ]);
    }
  });
});
