import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import { GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { type StartedRun, startRun, succeed } from "../support/flows.js";

/** The directories of the upstream task's handler and of the downstream one's. */
const test = apiTest
  .extend("upstreamDir", { scope: "file" }, async ({ t }) => {
    const dir = join(t.resultsDir, "upstream");
    await mkdir(dir);
    return dir;
  })
  .extend("downstreamDir", { scope: "file" }, async ({ t }) => {
    const dir = join(t.resultsDir, "downstream");
    await mkdir(dir);
    return dir;
  });

describe("cached inputs", () => {
  // Task A (handler A) feeds task B (handler B); B fails and caches its inputs before a retry.
  function pipeline(t: TestApp, upstreamDir: string, downstreamDir: string): Promise<StartedRun> {
    return startRun(
      t,
      {
        name: "a-feeds-b",
        tasks: [
          { name: "threshold", isParameter: true },
          { name: "a", handler: { type: "LOCAL", dir: upstreamDir } },
          { name: "b", handler: { type: "LOCAL", dir: downstreamDir } },
          { name: "c", handler: { type: "JSON" } },
        ],
      },
      [{ name: "threshold", value: 0.5 }],
    );
  }

  test("stores an input given as a value with the upstream task's handler, not the downstream one", async ({
    t,
    upstreamDir,
    downstreamDir,
  }) => {
    const { taskRuns } = await pipeline(t, upstreamDir, downstreamDir);

    const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: taskRuns.b!.id,
          version: 1,
          state: {
            type: "RETRYING",
            message: "will retry",
            cachedInputs: [
              { name: "rows", upstreamTaskRunId: taskRuns.a!.id, value: [{ id: 1 }, { id: 2 }] },
              { name: "threshold", upstreamTaskRunId: taskRuns.threshold!.id, value: 0.5 },
              { name: "label", upstreamTaskRunId: taskRuns.c!.id, value: null },
            ],
          },
        },
      ],
    });

    const state = setTaskRunStates[0]!.state;
    expect(state.result).toEqual({ __typename: "NoResult", noResult: true });
    const byName = Object.fromEntries(state.cachedInputs.map((input) => [input.name, input]));
    const rows = byName.rows!.result;
    if (rows.__typename !== "Result") throw new Error("expected a result");
    expect(rows.handler).toEqual({
      type: "LOCAL",
      dir: upstreamDir,
      bucket: null,
      prefix: null,
      codecs: [],
      inlineBelowBytes: null,
    });
    expect(rows.handle.startsWith(`${upstreamDir}/`)).toBe(true);
    expect(JSON.parse(await readFile(rows.handle, "utf8"))).toEqual([{ id: 1 }, { id: 2 }]);
    expect(byName.threshold!.result).toMatchObject({ handler: { type: "JSON" }, handle: "0.5", value: 0.5 });
    expect(byName.label!.result).toMatchObject({ handler: { type: "JSON" }, handle: "null", value: null });
    expect(byName.rows!.upstreamTaskRun.id).toBe(taskRuns.a!.id);
  });

  test("refers to the upstream task run's stored result without writing it again", async ({
    t,
    upstreamDir,
    downstreamDir,
  }) => {
    const { taskRuns } = await pipeline(t, upstreamDir, downstreamDir);
    const upstream = await succeed(t, taskRuns.a!, { big: "table" });

    const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: taskRuns.b!.id,
          version: 1,
          state: { type: "RETRYING", cachedInputs: [{ name: "table", upstreamTaskRunId: taskRuns.a!.id }] },
        },
      ],
    });

    const cached = setTaskRunStates[0]!.state.cachedInputs[0]!.result;
    expect(cached).toMatchObject({
      id: upstream.id,
      handle: upstream.handle,
      handler: { dir: upstreamDir },
      value: { big: "table" },
    });
    const count = await t.sql(`SELECT count(*)::int AS n FROM result WHERE handle = $1`, [upstream.handle]);
    expect(count).toEqual([{ n: 1 }]);
    const { taskRun } = await t.ok(GetTaskRun, { id: taskRuns.b!.id });
    expect(taskRun?.state.cachedInputs).toEqual([
      { name: "table", result: expect.objectContaining({ value: { big: "table" } }) },
    ]);
  });

  test("refers to the result an upstream task run gets in the same batch", async ({
    t,
    upstreamDir,
    downstreamDir,
  }) => {
    const { taskRuns } = await pipeline(t, upstreamDir, downstreamDir);
    const earlier = await succeed(t, taskRuns.a!, "first attempt");

    const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: taskRuns.b!.id,
          version: 1,
          state: { type: "RETRYING", cachedInputs: [{ name: "fresh", upstreamTaskRunId: taskRuns.a!.id }] },
        },
        { taskRunId: taskRuns.a!.id, version: 2, state: { type: "SUCCESS", result: { value: "second attempt" } } },
      ],
    });

    const cached = setTaskRunStates[0]!.state.cachedInputs[0]!.result;
    const upstream = setTaskRunStates[1]!.state.result;
    if (upstream.__typename !== "Result") throw new Error("expected a result");
    expect(cached).toMatchObject({ id: upstream.id, value: "second attempt", handler: { dir: upstreamDir } });
    expect(cached).not.toMatchObject({ id: earlier.id });
  });

  test("refuses a reference to an upstream task run that has no result", async ({ t, upstreamDir, downstreamDir }) => {
    const { taskRuns } = await pipeline(t, upstreamDir, downstreamDir);

    const errors = await t.fail(SetTaskRunStates, {
      input: [
        {
          taskRunId: taskRuns.b!.id,
          version: 1,
          state: { type: "RETRYING", cachedInputs: [{ name: "x", upstreamTaskRunId: taskRuns.a!.id }] },
        },
      ],
    });

    expect(errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(errors[0]?.message).toMatch(/has no result/);
  });

  test("refuses an upstream task run of another flow run", async ({ t, upstreamDir, downstreamDir }) => {
    const first = await pipeline(t, upstreamDir, downstreamDir);
    const second = await pipeline(t, upstreamDir, downstreamDir);

    const errors = await t.fail(SetTaskRunStates, {
      input: [
        {
          taskRunId: second.taskRuns.b!.id,
          version: 1,
          state: { type: "RETRYING", cachedInputs: [{ name: "x", upstreamTaskRunId: first.taskRuns.a!.id, value: 1 }] },
        },
      ],
    });

    expect(errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(
      await t.sql(`SELECT count(*)::int AS n FROM cached_input WHERE upstream_task_run_id = $1`, [
        first.taskRuns.a!.id,
      ]),
    ).toEqual([{ n: 0 }]);
    expect(await t.sql(`SELECT version FROM task_run WHERE id = $1`, [second.taskRuns.b!.id])).toEqual([
      { version: 1 },
    ]);
  });
});
