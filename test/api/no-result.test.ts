import { describe, expect } from "vitest";
import { GetFlowRun, GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { test } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";

describe("NoResult is not a null result", () => {
  for (const handler of [{ type: "JSON" as const }, undefined]) {
    const name = handler ? "JSON" : "LOCAL (default)";

    test(`keeps "no result" and "a null result" apart with the ${name} handler`, async ({ t }) => {
      const run = await startRun(t, { name, handler, tasks: [{ name: "none" }, { name: "null" }] });

      const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
        input: [
          { taskRunId: run.taskRuns.none!.id, version: 1, state: { type: "SUCCESS" } },
          { taskRunId: run.taskRuns.null!.id, version: 1, state: { type: "SUCCESS", result: { value: null } } },
        ],
      });

      expect(setTaskRunStates[0]!.state.result).toEqual({ __typename: "NoResult", noResult: true });
      expect(setTaskRunStates[1]!.state.result).toMatchObject({ __typename: "Result", handled: true, value: null });
      const none = await t.ok(GetTaskRun, { id: run.taskRuns.none!.id });
      const nil = await t.ok(GetTaskRun, { id: run.taskRuns.null!.id });
      expect(none.taskRun?.state.result.__typename).toBe("NoResult");
      expect(nil.taskRun?.state.result).toMatchObject({ __typename: "Result", value: null });
      expect(
        await t.sql(`SELECT result_id FROM state WHERE task_run_id = $1 AND version = 2`, [run.taskRuns.none!.id]),
      ).toEqual([{ result_id: null }]);
    });
  }

  test("gives a task run that has not run NoResult, and a parameter given null a null result", async ({ t }) => {
    const run = await startRun(
      t,
      {
        name: "params",
        tasks: [{ name: "given", isParameter: true }, { name: "omitted", isParameter: true }, { name: "work" }],
      },
      [{ name: "given", value: null }],
    );

    const { flowRun } = await t.ok(GetFlowRun, { id: run.flowRunId });
    const work = await t.ok(GetTaskRun, { id: run.taskRuns.work!.id });

    expect(flowRun?.parameters).toEqual([
      { name: "given", result: expect.objectContaining({ __typename: "Result", handle: "null", value: null }) },
      { name: "omitted", result: { __typename: "NoResult", noResult: true } },
    ]);
    expect(work.taskRun?.state).toMatchObject({ type: "PENDING", version: 1, result: { __typename: "NoResult" } });
  });

  test('treats an explicit "result: null" as no result', async ({ t }) => {
    const run = await startRun(t, { name: "explicit", tasks: [{ name: "work" }] });

    const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
      input: [
        { taskRunId: run.taskRuns.work!.id, version: 1, state: { type: "FAILED", message: "boom", result: null } },
      ],
    });

    expect(setTaskRunStates[0]!.state).toMatchObject({
      type: "FAILED",
      message: "boom",
      result: { __typename: "NoResult" },
    });
  });
});
