import { expect } from "vitest";
import type { TestApp } from "../support/app.js";
import {
  GetTaskRun,
  GetTaskRunHandles,
  ListTaskRuns,
  SetTaskRunStates,
  SetTaskRunStatesLean,
} from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";
import { statementsOf, statementsSent } from "../support/metrics.js";

// Statements are counted per request: the projects' places, which reads and writes consult, are
// read again once HANDLED_AUTH_CACHE_MS has passed, and such a read must not fall inside a count.
const test = apiTest.override("env", { scope: "file" }, async () => ({ HANDLED_AUTH_CACHE_MS: "600000" }));

// The API's cost in SQL statements must not grow with the number of items a request touches.
// The service counts every statement it sends (transaction control included) and serves the
// count at /metrics, which itself sends none.

/** A flow run of `tasks` task runs, each moved to SUCCESS with a JSON value. */
async function finishedRun(t: TestApp, tasks: number) {
  const run = await startRun(t, {
    name: `flow of ${tasks}`,
    handler: { type: "JSON" },
    tasks: Array.from({ length: tasks }, (_, i) => ({ name: `t${i}` })),
  });
  const input = Object.values(run.taskRuns).map((taskRun, i) => ({
    taskRunId: taskRun.id,
    version: taskRun.version,
    state: { type: "SUCCESS" as const, result: { value: { i } } },
  }));
  const statements = await statementsOf(t, () => t.ok(SetTaskRunStatesLean, { input }));
  return { run, statements };
}

test("serves Prometheus metrics, with the statements it sent and its memory", async ({ t }) => {
  const response = await fetch(t.app.url.replace(/\/graphql$/, "/metrics"));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  const text = await response.text();
  expect(text).toMatch(/^# TYPE handled_sql_statements_total counter$/m);
  expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  const before = await statementsSent(t);
  await finishedRun(t, 1);
  expect(await statementsSent(t)).toBeGreaterThan(before);
});

test("records a batch of state changes in two statements, whether it has 1 entry or 50", async ({ t }) => {
  const one = await finishedRun(t, 1);
  const fifty = await finishedRun(t, 50);
  expect(one.statements).toBe(2);
  expect(fifty.statements).toBe(2);
});

test("answers a batch with the new states and results in a constant number of statements more", async ({ t }) => {
  const answer = async (tasks: number) => {
    const { taskRuns } = await startRun(t, {
      name: `answered ${tasks}`,
      tasks: Array.from({ length: tasks }, (_, i) => ({ name: `t${i}` })),
    });
    const input = Object.values(taskRuns).map(({ id, version }) => ({
      taskRunId: id,
      version,
      state: { type: "SUCCESS" as const, result: { value: 1 } },
    }));
    return statementsOf(t, () => t.ok(SetTaskRunStates, { input }));
  };
  expect(await answer(50)).toBe(await answer(2));
});

test("reads a task run with its current state and result in one statement", async ({ t }) => {
  const { run } = await finishedRun(t, 1);
  const statements = await statementsOf(t, () => t.ok(GetTaskRunHandles, { id: run.taskRuns.t0!.id }));
  expect(statements).toBe(1);
});

test("reads a flow run's task runs, states and results in as many statements for 100 as for 10", async ({ t }) => {
  const small = await finishedRun(t, 10);
  const large = await finishedRun(t, 100);
  const read = (id: string) => statementsOf(t, () => t.ok(ListTaskRuns, { flowRunId: id, first: 100 }));
  const forSmall = await read(small.run.flowRunId);
  const forLarge = await read(large.run.flowRunId);
  expect(forLarge).toBe(forSmall);
  // The flow run, its state, its task runs with their states and results, their tasks.
  expect(forSmall).toBeLessThanOrEqual(4);

  const { flowRun } = await t.ok(ListTaskRuns, { flowRunId: large.run.flowRunId, first: 100 });
  const nodes = flowRun!.taskRuns.nodes;
  expect(nodes.map((r) => r.task.name)).toEqual(Array.from({ length: 100 }, (_, i) => `t${i}`));
  expect(nodes.map((r) => r.state.result)).toEqual(
    Array.from({ length: 100 }, (_, i) =>
      expect.objectContaining({ __typename: "Result", preview: { text: `{"i":${i}}`, truncated: false } }),
    ),
  );
});

test("keeps a task run's full read, history and cached inputs included, independent of its history's length", async ({
  t,
}) => {
  const { run } = await finishedRun(t, 1);
  const taskRun = run.taskRuns.t0!;
  const first = await statementsOf(t, () => t.ok(GetTaskRun, { id: taskRun.id }));
  for (let version = 2; version < 12; version++) {
    await t.ok(SetTaskRunStates, { input: [{ taskRunId: taskRun.id, version, state: { type: "RUNNING" } }] });
  }
  expect(await statementsOf(t, () => t.ok(GetTaskRun, { id: taskRun.id }))).toBe(first);
});
