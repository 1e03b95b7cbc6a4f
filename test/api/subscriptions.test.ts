import { createClient, type Operation } from "@handled/client";
import { describe, expect } from "vitest";
import { startTestApp } from "../support/app.js";
import {
  BrowseFlows,
  CreateFlowRun,
  FlowRunsChanged,
  SetTaskRunStates,
  TaskRunStateChanged,
} from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";
import { subscribed } from "../support/subscriptions.js";

// Live updates: subscriptions over Server-Sent Events at /graphql/stream, fed by PostgreSQL's
// LISTEN/NOTIFY (the two-replica case is in test/ops/replicas.test.ts).

const running = (taskRunId: string, version: number) => ({
  input: [{ taskRunId, version, state: { type: "RUNNING" as const } }],
});

const test = apiTest.override("env", { scope: "file" }, async () => ({ HANDLED_MAX_SUBSCRIPTIONS: "3" }));

describe("subscriptions", () => {
  test("taskRunStateChanged sends each task run of the run as it gets a state, and nothing of other runs", async ({
    t,
  }) => {
    const run = await startRun(t, { name: "watched", tasks: [{ name: "a" }, { name: "b" }] });
    const other = await startRun(t, { name: "unwatched", tasks: [{ name: "a" }] });
    const live = await subscribed(t.client, TaskRunStateChanged, { flowRunId: run.flowRunId });
    try {
      await t.ok(SetTaskRunStates, running(other.taskRuns.a!.id, 1));
      await t.ok(SetTaskRunStates, {
        input: [
          { taskRunId: run.taskRuns.a!.id, version: 1, state: { type: "SUCCESS", result: { value: null } } },
          { taskRunId: run.taskRuns.b!.id, version: 1, state: { type: "FAILED", message: "boom" } },
        ],
      });
      const a = await live.until((e) => e.taskRunStateChanged.id === run.taskRuns.a!.id);
      const b = await live.until((e) => e.taskRunStateChanged.id === run.taskRuns.b!.id);
      expect(a.taskRunStateChanged).toMatchObject({
        version: 2,
        task: { name: "a" },
        state: { type: "SUCCESS", result: { __typename: "Result", handler: { type: "LOCAL" }, sizeBytes: 4 } },
      });
      expect(b.taskRunStateChanged).toMatchObject({
        version: 2,
        state: { type: "FAILED", message: "boom", result: { __typename: "NoResult" } },
      });
      // A batch refused whole announces nothing: the stale one is not sent.
      const refused = await t.run(SetTaskRunStates, running(run.taskRuns.a!.id, 1));
      expect(refused.errors?.[0]?.extensions?.code).toBe("VERSION_MISMATCH");
      await t.ok(SetTaskRunStates, running(run.taskRuns.b!.id, 2));
      await live.until((e) => e.taskRunStateChanged.id === run.taskRuns.b!.id && e.taskRunStateChanged.version === 3);
      expect(live.events.map((e) => e.taskRunStateChanged.id)).not.toContain(other.taskRuns.a!.id);
      expect(live.events.every((e) => e.taskRunStateChanged.version !== 1)).toBe(true);
      expect(live.errors).toEqual([]);
    } finally {
      live.stop();
    }
  });

  test("flowRunsChanged sends new runs and runs whose task runs changed; with flowId, that flow's only", async ({
    t,
  }) => {
    const first = await startRun(t, { name: "runs-1", tasks: [{ name: "x" }] });
    const second = await startRun(t, { name: "runs-2", tasks: [{ name: "x" }] });
    const all = await subscribed(t.client, FlowRunsChanged, { flowId: null });
    const one = await subscribed(t.client, FlowRunsChanged, { flowId: first.flowId });
    try {
      const { createFlowRun } = await t.ok(CreateFlowRun, { input: { flowId: first.flowId } });
      await t.ok(SetTaskRunStates, running(second.taskRuns.x!.id, 1));
      const created = await all.until((e) => e.flowRunsChanged.id === createFlowRun.id);
      expect(created.flowRunsChanged).toMatchObject({ state: "PENDING", flow: { id: first.flowId } });
      const changed = await all.until((e) => e.flowRunsChanged.id === second.flowRunId);
      expect(changed.flowRunsChanged.state).toBe("RUNNING");
      await one.until((e) => e.flowRunsChanged.id === createFlowRun.id);
      // Sent after the change to `second` (one stream, in order): `one` would have had it by now.
      await t.ok(SetTaskRunStates, running(first.taskRuns.x!.id, 1));
      await one.until((e) => e.flowRunsChanged.id === first.flowRunId);
      expect(one.events.map((e) => e.flowRunsChanged.flow.id).every((id) => id === first.flowId)).toBe(true);
    } finally {
      all.stop();
      one.stop();
    }
  });

  test("an unknown run or flow is NOT_FOUND; a query is refused at the stream, a subscription at /graphql", async ({
    t,
  }) => {
    for (const [operation, variables] of [
      [TaskRunStateChanged, { flowRunId: "00000000-0000-4000-8000-000000000000" }],
      [TaskRunStateChanged, { flowRunId: "not-a-uuid" }],
      [FlowRunsChanged, { flowId: "00000000-0000-4000-8000-000000000000" }],
    ] as const) {
      const refused = await subscribed(t.client, operation as Operation<unknown, unknown>, variables);
      await refused.ended();
      expect(refused.errors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
      expect(refused.events).toEqual([]);
    }
    const query = await subscribed(t.client, BrowseFlows as Operation<unknown, unknown>, {});
    await query.ended();
    expect(query.errors.map((e) => e.code)).toEqual(["OPERATION_NOT_SUPPORTED"]);
    const atGraphql = await t.run(TaskRunStateChanged, { flowRunId: "00000000-0000-4000-8000-000000000000" });
    expect(atGraphql.errors?.[0]?.extensions?.code).toBe("OPERATION_NOT_SUPPORTED");
    const invalid = await subscribed(
      t.client,
      { toString: () => "subscription { taskRunStateChanged(flowRunId: 1) { nope } }" } as Operation<unknown, unknown>,
      {},
    );
    await invalid.ended();
    expect(invalid.errors[0]?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  test("past HANDLED_MAX_SUBSCRIPTIONS a subscription is refused with RATE_LIMITED; ended ones free their place", async ({
    t,
  }) => {
    const run = await startRun(t, { name: "many", tasks: [{ name: "x" }] });
    const held = await Promise.all(
      [1, 2, 3].map(() => subscribed(t.client, TaskRunStateChanged, { flowRunId: run.flowRunId })),
    );
    const over = await subscribed(t.client, TaskRunStateChanged, { flowRunId: run.flowRunId });
    await over.ended();
    expect(over.errors.map((e) => e.code)).toEqual(["RATE_LIMITED"]);
    const metrics = await (await fetch(new URL("/metrics", t.app.url))).text();
    expect(metrics).toMatch(/^handled_subscriptions 3$/m);
    expect(metrics).toMatch(/^handled_live_listener_up 1$/m);
    for (const live of held) live.stop();
    await expect
      .poll(async () => {
        const again = await subscribed(t.client, TaskRunStateChanged, { flowRunId: run.flowRunId });
        again.stop();
        return again.errors.length;
      })
      .toBe(0);
  });

  test("a listener whose connection is cut listens again, and its subscribers reconnect and go on", async ({ t }) => {
    const run = await startRun(t, { name: "cut", tasks: [{ name: "x" }] });
    const live = await subscribed(t.client, TaskRunStateChanged, { flowRunId: run.flowRunId });
    const listeners = () =>
      t.sql<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN handled_changes'`,
      );
    const [before] = await listeners();
    expect(before).toBeDefined();
    await t.sql("SELECT pg_terminate_backend($1)", [before!.pid]);
    await expect
      .poll(async () => (await listeners()).map((row) => row.pid), { timeout: 10_000 })
      .not.toContain(before!.pid);
    await expect.poll(async () => (await listeners()).length, { timeout: 10_000 }).toBe(1);
    // What changed while it was not listening was not heard: its streams are cut, and clients
    // (told by `connected(true)`) read again.
    await expect.poll(() => live.reconnections(), { timeout: 10_000 }).toBe(1);
    await t.ok(SetTaskRunStates, running(run.taskRuns.x!.id, 1));
    await live.until((e) => e.taskRunStateChanged.version === 2);
    expect(live.errors).toEqual([]);
    live.stop();
  });

  test("a replica that stops cuts its streams rather than completing them, so clients reconnect elsewhere", async () => {
    const stopping = await startTestApp();
    let stopped = false;
    try {
      const run = await startRun(stopping, { name: "stopping", tasks: [{ name: "x" }] });
      const client = createClient({ url: stopping.app.url, streamRetries: 1 });
      const live = await subscribed(client, TaskRunStateChanged, { flowRunId: run.flowRunId });
      stopped = true;
      await stopping.stop();
      // The client tries again (and, with nothing left to reach, gives up): it was not told "complete".
      await live.ended(10_000);
      expect(live.completed()).toBe(false);
      expect(live.errors.map((e) => e.code)).toEqual(["NETWORK_ERROR"]);
      live.stop();
    } finally {
      if (!stopped) await stopping.stop();
    }
  });
});
