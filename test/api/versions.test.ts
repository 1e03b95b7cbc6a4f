import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { filesUnder } from "../support/files.js";
import { test } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { recorded } from "../support/inspect.js";

describe("versions and all-or-nothing batches", () => {
  test("moves the version forward by one per state and keeps the history", async ({ t }) => {
    const run = await startRun(t, { name: "history", tasks: [{ name: "work" }] });
    const work = run.taskRuns.work!;

    await t.ok(SetTaskRunStates, { input: [{ taskRunId: work.id, version: 1, state: { type: "RUNNING" } }] });
    await t.ok(SetTaskRunStates, {
      input: [{ taskRunId: work.id, version: 2, state: { type: "FAILED", message: "flaky" } }],
    });
    await succeed(t, { id: work.id, version: 3 }, "third time lucky");

    const { taskRun } = await t.ok(GetTaskRun, { id: work.id });
    expect(taskRun?.version).toBe(4);
    expect(taskRun?.states.nodes.map((s) => [s.version, s.type, s.message])).toEqual([
      [1, "PENDING", null],
      [2, "RUNNING", null],
      [3, "FAILED", "flaky"],
      [4, "SUCCESS", null],
    ]);
    expect(taskRun?.state.result).toMatchObject({ value: "third time lucky" });
  });

  test("refuses a stale version with VERSION_MISMATCH and writes no file and no row", async ({ t }) => {
    const run = await startRun(t, { name: "stale", tasks: [{ name: "work" }] });
    await succeed(t, run.taskRuns.work!, "first");
    const before = await recorded(t);

    const errors = await t.fail(SetTaskRunStates, {
      input: [
        { taskRunId: run.taskRuns.work!.id, version: 1, state: { type: "SUCCESS", result: { value: "stale write" } } },
      ],
    });

    expect(errors).toHaveLength(1);
    expect(errors[0]?.extensions?.code).toBe("VERSION_MISMATCH");
    expect(errors[0]?.message).toMatch(/at version 2, not 1/);
    expect(await recorded(t)).toEqual(before);
  });

  test("refuses a whole batch when one entry is stale, leaving the others untouched", async ({ t }) => {
    const run = await startRun(t, { name: "batch", tasks: [{ name: "a" }, { name: "b" }] });
    const before = await recorded(t);

    const errors = await t.fail(SetTaskRunStates, {
      input: [
        { taskRunId: run.taskRuns.a!.id, version: 1, state: { type: "SUCCESS", result: { value: "a" } } },
        { taskRunId: run.taskRuns.b!.id, version: 7, state: { type: "SUCCESS", result: { value: "b" } } },
      ],
    });

    expect(errors[0]?.extensions?.code).toBe("VERSION_MISMATCH");
    expect(await recorded(t)).toEqual(before);
  });

  test("lets exactly one of two concurrent writers at the same version win", async ({ t }) => {
    const run = await startRun(t, { name: "race", tasks: [{ name: "work" }] });
    const filesBefore = await filesUnder(t.resultsDir);
    const attempt = (value: string) =>
      t.run(SetTaskRunStates, {
        input: [{ taskRunId: run.taskRuns.work!.id, version: 1, state: { type: "SUCCESS", result: { value } } }],
      });

    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => attempt(`writer ${i}`)));

    const winners = outcomes.filter((o) => !o.errors);
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => o.errors?.[0]?.extensions?.code === "VERSION_MISMATCH")).toHaveLength(5);
    const { taskRun } = await t.ok(GetTaskRun, { id: run.taskRuns.work!.id });
    expect(taskRun?.states.nodes).toHaveLength(2);
    expect(taskRun?.state.result).toEqual(winners[0]!.data!.setTaskRunStates[0]!.state.result);
    // The losers' files were removed: the winner's is the one new file.
    const winner = winners[0]!.data!.setTaskRunStates[0]!.state.result;
    if (winner.__typename !== "Result") throw new Error("expected a result");
    const added = (await filesUnder(t.resultsDir)).filter((f) => !filesBefore.includes(f));
    expect(added.map((f) => `${t.resultsDir}/${f}`)).toEqual([winner.handle]);
  });

  test("lets one of two batches naming the same task runs in opposite orders win, without a deadlock", async ({
    t,
  }) => {
    for (let round = 0; round < 10; round++) {
      const run = await startRun(t, {
        name: `opposite orders ${round}`,
        handler: { type: "JSON" },
        tasks: [{ name: "a" }, { name: "b" }],
      });
      const entry = (name: "a" | "b") => ({
        taskRunId: run.taskRuns[name]!.id,
        version: 1,
        state: { type: "RUNNING" as const },
      });

      const outcomes = await Promise.all([
        t.run(SetTaskRunStates, { input: [entry("a"), entry("b")] }),
        t.run(SetTaskRunStates, { input: [entry("b"), entry("a")] }),
      ]);

      const codes = outcomes.map((o) => o.errors?.[0]?.extensions?.code ?? "OK").sort();
      expect({ round, codes }).toEqual({ round, codes: ["OK", "VERSION_MISMATCH"] });
    }
  });

  test("records nothing when a write fails, and removes what the batch already wrote", async ({ t }) => {
    const blocked = join(t.resultsDir, "blocked");
    await writeFile(blocked, "a file where a directory should be");
    const run = await startRun(t, {
      name: "failing-write",
      tasks: [{ name: "fine" }, { name: "broken", handler: { type: "LOCAL", dir: join(blocked, "sub") } }],
    });
    const before = await recorded(t);

    const errors = await t.fail(SetTaskRunStates, {
      input: [
        {
          taskRunId: run.taskRuns.fine!.id,
          version: 1,
          state: { type: "SUCCESS", result: { value: "written first" } },
        },
        {
          taskRunId: run.taskRuns.broken!.id,
          version: 1,
          state: { type: "SUCCESS", result: { value: "cannot be written" } },
        },
      ],
    });

    expect(errors[0]?.extensions?.code).toBe("RESULT_WRITE_FAILED");
    expect(await recorded(t)).toEqual(before);
  });
});
