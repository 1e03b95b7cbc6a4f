import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import {
  CreateFlow,
  CreateFlowRun,
  ListFlowRuns,
  ListFlows,
  ListTaskRuns,
  SetTaskRunStatesLean,
  TaskRunHistory,
} from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";
import { statementsOf } from "../support/metrics.js";

// Statements are counted per request: the projects' places, which reads and writes consult, are
// read again once HANDLED_AUTH_CACHE_MS has passed, and such a read must not fall inside a count.
const test = apiTest.override("env", { scope: "file" }, async () => ({ HANDLED_AUTH_CACHE_MS: "600000" }));

// The reads a UI makes: lists paged with cursors, and statements per request that do not grow
// with the number of items listed.

/** Moves task runs to a state, each with a small JSON value; returns their new versions. */
async function setStates(
  t: TestApp,
  taskRuns: { id: string; version: number }[],
  type: "RUNNING" | "SUCCESS" | "FAILED",
) {
  const input = taskRuns.map(({ id, version }, i) => ({
    taskRunId: id,
    version,
    state: { type, result: type === "RUNNING" ? undefined : { value: { i, type } } },
  }));
  const { setTaskRunStates } = await t.ok(SetTaskRunStatesLean, { input });
  for (const [i, run] of setTaskRunStates.entries()) taskRuns[i]!.version = run.version;
}

/** A flow of `tasks` tasks, with `runs` runs; with `parameter`, a parameter too, given each run's number. */
async function flowWithRuns(t: TestApp, name: string, tasks: number, runs: number, parameter = false) {
  const { createFlow } = await t.ok(CreateFlow, {
    input: {
      name,
      handler: { type: "JSON" },
      tasks: [
        ...(parameter ? [{ name: "run", isParameter: true }] : []),
        ...Array.from({ length: tasks }, (_, i) => ({ name: `t${i}` })),
      ],
    },
  });
  const created = [];
  for (let i = 0; i < runs; i++) {
    const parameters = parameter ? [{ name: "run", value: i }] : [];
    const { createFlowRun } = await t.ok(CreateFlowRun, { input: { flowId: createFlow.id, parameters } });
    created.push({
      id: createFlowRun.id,
      taskRuns: createFlowRun.taskRuns.nodes.map(({ id, version }) => ({ id, version })),
    });
  }
  return { flowId: createFlow.id, runs: created };
}

describe("flow runs of a flow", () => {
  test("lists them newest first, page by page, and each page follows the last", async ({ t }) => {
    const { flowId, runs } = await flowWithRuns(t, "paged runs", 1, 7);
    const newestFirst = runs.map((run) => run.id).reverse();

    const seen: string[] = [];
    let after: string | null | undefined;
    let pages = 0;
    do {
      const { flow } = await t.ok(ListFlowRuns, { flowId, first: 3, after });
      seen.push(...flow!.runs.nodes.map((run) => run.id));
      after = flow!.runs.pageInfo.hasNextPage ? flow!.runs.pageInfo.endCursor : null;
      pages++;
    } while (after);

    expect(seen).toEqual(newestFirst);
    expect(pages).toBe(3);
  });

  test("filters them by the state derived from their task runs", async ({ t }) => {
    const { flowId, runs } = await flowWithRuns(t, "filtered runs", 2, 4);
    const [pending, running, succeeded, failed] = runs;
    await setStates(t, [running!.taskRuns[0]!], "RUNNING");
    await setStates(t, succeeded!.taskRuns, "SUCCESS");
    await setStates(t, [failed!.taskRuns[0]!], "SUCCESS");
    await setStates(t, [failed!.taskRuns[1]!], "FAILED");

    const inState = async (state: "PENDING" | "RUNNING" | "SUCCESS" | "FAILED" | "CANCELLED") =>
      (await t.ok(ListFlowRuns, { flowId, state })).flow!.runs.nodes.map((run) => [run.id, run.state]);

    expect(await inState("PENDING")).toEqual([[pending!.id, "PENDING"]]);
    expect(await inState("RUNNING")).toEqual([[running!.id, "RUNNING"]]);
    expect(await inState("SUCCESS")).toEqual([[succeeded!.id, "SUCCESS"]]);
    expect(await inState("FAILED")).toEqual([[failed!.id, "FAILED"]]);
    expect(await inState("CANCELLED")).toEqual([]);
  });

  test("pages a filtered list with cursors too", async ({ t }) => {
    const { flowId, runs } = await flowWithRuns(t, "filtered pages", 1, 6);
    const done = runs.filter((_, i) => i % 2 === 0);
    for (const run of done) await setStates(t, run.taskRuns, "SUCCESS");

    const first = await t.ok(ListFlowRuns, { flowId, first: 2, state: "SUCCESS" });
    const second = await t.ok(ListFlowRuns, {
      flowId,
      first: 2,
      state: "SUCCESS",
      after: first.flow!.runs.pageInfo.endCursor,
    });

    expect([...first.flow!.runs.nodes, ...second.flow!.runs.nodes].map((run) => run.id)).toEqual(
      done.map((run) => run.id).reverse(),
    );
    expect(first.flow!.runs.pageInfo.hasNextPage).toBe(true);
    expect(second.flow!.runs.pageInfo.hasNextPage).toBe(false);
  });
});

describe("task runs of a flow run", () => {
  test("lists them in task order with their current state and a preview of their result", async ({ t }) => {
    const { runs } = await flowWithRuns(t, "listed task runs", 5, 1);
    const [run] = runs;
    await setStates(t, run!.taskRuns.slice(0, 3), "SUCCESS");

    const page1 = await t.ok(ListTaskRuns, { flowRunId: run!.id, first: 3 });
    const page2 = await t.ok(ListTaskRuns, {
      flowRunId: run!.id,
      first: 3,
      after: page1.flowRun!.taskRuns.pageInfo.endCursor,
    });

    const rows = [...page1.flowRun!.taskRuns.nodes, ...page2.flowRun!.taskRuns.nodes].map((taskRun) => [
      taskRun.task.name,
      taskRun.state.type,
      taskRun.state.result.__typename === "Result" ? taskRun.state.result.preview?.text : null,
    ]);
    expect(rows).toEqual([
      ["t0", "SUCCESS", '{"i":0,"type":"SUCCESS"}'],
      ["t1", "SUCCESS", '{"i":1,"type":"SUCCESS"}'],
      ["t2", "SUCCESS", '{"i":2,"type":"SUCCESS"}'],
      ["t3", "PENDING", null],
      ["t4", "PENDING", null],
    ]);
    expect(page1.flowRun!.state).toBe("RUNNING");
    expect(page2.flowRun!.taskRuns.pageInfo).toEqual({ hasNextPage: false, endCursor: expect.any(String) });
  });
});

describe("a task run's state history", () => {
  test("pages through it oldest first", async ({ t }) => {
    const run = await startRun(t, { name: "history", handler: { type: "JSON" }, tasks: [{ name: "work" }] });
    const work = run.taskRuns.work!;
    for (const type of ["RUNNING", "FAILED", "RUNNING", "SUCCESS"] as const) await setStates(t, [work], type);

    const first = await t.ok(TaskRunHistory, { id: work.id, first: 2 });
    const rest = await t.ok(TaskRunHistory, {
      id: work.id,
      first: 10,
      after: first.taskRun!.states.pageInfo.endCursor,
    });

    expect([...first.taskRun!.states.nodes, ...rest.taskRun!.states.nodes].map((s) => [s.version, s.type])).toEqual([
      [1, "PENDING"],
      [2, "RUNNING"],
      [3, "FAILED"],
      [4, "RUNNING"],
      [5, "SUCCESS"],
    ]);
    expect(first.taskRun!.states.pageInfo.hasNextPage).toBe(true);
    expect(rest.taskRun!.states.pageInfo.hasNextPage).toBe(false);
  });
});

describe("paging", () => {
  test("lists flows newest first, page by page", async ({ t }) => {
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push((await flowWithRuns(t, `listed flow ${i}`, 1, 0)).flowId);
    const first = await t.ok(ListFlows, { first: 2 });
    const next = await t.ok(ListFlows, { first: 1, after: first.flows.pageInfo.endCursor });
    expect([...first.flows.nodes, ...next.flows.nodes].map((flow) => flow.id)).toEqual(mine.reverse());
  });

  test("refuses page sizes outside 1 to 500 and cursors it did not make", async ({ t }) => {
    const { flowId, runs } = await flowWithRuns(t, "bad pages", 1, 1);
    const taskRunCursor = (await t.ok(ListTaskRuns, { flowRunId: runs[0]!.id, first: 1 })).flowRun!.taskRuns.pageInfo
      .endCursor;

    for (const variables of [
      { flowId, first: 0 },
      { flowId, first: 501 },
      { flowId, after: "not a cursor" },
      { flowId, after: taskRunCursor }, // a cursor of another list
    ]) {
      const errors = await t.fail(ListFlowRuns, variables);
      expect({ variables, codes: errors.map((e) => e.extensions?.code) }).toEqual({
        variables,
        codes: ["BAD_USER_INPUT"],
      });
    }
  });
});

describe("statements per request", () => {
  // The same query for 10 and for 200 items must cost the same number of SQL statements.
  const sizes = [10, 200] as const;

  test("lists a flow's runs with their states and parameters at a constant cost", async ({ t }) => {
    const counts = [];
    for (const size of sizes) {
      const { flowId } = await flowWithRuns(t, `runs x${size}`, 2, size, true);
      counts.push(await statementsOf(t, () => t.ok(ListFlowRuns, { flowId, first: size })));
      const { flow } = await t.ok(ListFlowRuns, { flowId, first: size });
      expect(flow!.runs.nodes).toHaveLength(size);
      expect(flow!.runs.nodes.map((run) => run.parameters[0]?.result)).toEqual(
        Array.from({ length: size }, (_, i) => expect.objectContaining({ value: size - 1 - i })),
      );
    }
    expect(counts[1]).toBe(counts[0]);
    // The flow, the page of runs with their states, their parameters with their values.
    expect(counts[0]).toBe(3);
  });

  test("lists a flow run's task runs, with states and result previews, at a constant cost", async ({ t }) => {
    const counts = [];
    for (const size of sizes) {
      const { runs } = await flowWithRuns(t, `task runs x${size}`, size, 1);
      await setStates(t, runs[0]!.taskRuns, "SUCCESS");
      counts.push(await statementsOf(t, () => t.ok(ListTaskRuns, { flowRunId: runs[0]!.id, first: size })));
      const { flowRun } = await t.ok(ListTaskRuns, { flowRunId: runs[0]!.id, first: size });
      expect(flowRun!.taskRuns.nodes.filter((r) => r.state.result.__typename === "Result")).toHaveLength(size);
    }
    expect(counts[1]).toBe(counts[0]);
  });

  test("pages a task run's history at a constant cost", async ({ t }) => {
    const counts = [];
    for (const size of sizes) {
      const run = await startRun(t, { name: `history x${size}`, handler: { type: "JSON" }, tasks: [{ name: "work" }] });
      const work = run.taskRuns.work!;
      for (let i = 1; i < size; i++) await setStates(t, [work], i % 2 ? "RUNNING" : "SUCCESS");
      counts.push(await statementsOf(t, () => t.ok(TaskRunHistory, { id: work.id, first: size })));
      const { taskRun } = await t.ok(TaskRunHistory, { id: work.id, first: size });
      expect(taskRun!.states.nodes).toHaveLength(size);
    }
    expect(counts[1]).toBe(counts[0]);
  });
});
