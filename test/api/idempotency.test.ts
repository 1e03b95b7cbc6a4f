import type { SetTaskRunStateInput } from "@handled/client";
import { describe, expect } from "vitest";
import { SetTaskRunStates } from "../support/documents.js";
import { filesUnder } from "../support/files.js";
import { test } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";

// A batch retried with the same idempotency keys is recorded once; keys reused for another
// change are refused.

describe("idempotency keys", () => {
  test("make a retry of a recorded batch answer with it, writing nothing", async ({ t }) => {
    const run = await startRun(t, { name: "retried", tasks: [{ name: "a" }] });
    const input: SetTaskRunStateInput[] = [
      {
        taskRunId: run.taskRuns.a!.id,
        version: 1,
        idempotencyKey: "k-1",
        state: { type: "SUCCESS", result: { value: 42 } },
      },
    ];
    const first = await t.ok(SetTaskRunStates, { input });
    const files = await filesUnder(t.resultsDir);

    const again = await t.ok(SetTaskRunStates, { input });

    expect(again).toEqual(first);
    expect(await filesUnder(t.resultsDir)).toEqual(files);
    expect(
      await t.sql(`SELECT version FROM state WHERE task_run_id = $1 ORDER BY version`, [run.taskRuns.a!.id]),
    ).toEqual([{ version: 1 }, { version: 2 }]);
  });

  test("record a batch once when the same call is sent twice at once", async ({ t }) => {
    const run = await startRun(t, { name: "raced", tasks: [{ name: "a" }, { name: "b" }] });
    const input: SetTaskRunStateInput[] = ["a", "b"].map((task) => ({
      taskRunId: run.taskRuns[task]!.id,
      version: 1,
      idempotencyKey: "same-call",
      state: { type: "SUCCESS", result: { value: task } },
    }));

    const answers = await Promise.all([t.ok(SetTaskRunStates, { input }), t.ok(SetTaskRunStates, { input })]);

    expect(answers[0]).toEqual(answers[1]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM state WHERE idempotency_key = 'same-call'`)).toEqual([{ n: 2 }]);
    // The loser's files were removed: one file per value.
    const handles = await t.sql<{ handle: string }>(
      `SELECT r.handle FROM state s JOIN result r ON r.id = s.result_id WHERE s.idempotency_key = 'same-call'`,
    );
    expect(
      (await filesUnder(t.resultsDir)).filter((file) => handles.some((row) => row.handle.endsWith(file))),
    ).toHaveLength(2);
  });

  test("refuse a key reused for a different change", async ({ t }) => {
    const run = await startRun(t, { name: "reused", tasks: [{ name: "a" }, { name: "b" }] });
    await t.ok(SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.a!.id, version: 1, idempotencyKey: "once", state: { type: "RUNNING" } }],
    });

    const cases: SetTaskRunStateInput[][] = [
      // The next change of the same task run with the same key.
      [{ taskRunId: run.taskRuns.a!.id, version: 2, idempotencyKey: "once", state: { type: "SUCCESS" } }],
      // The same version with another state type.
      [{ taskRunId: run.taskRuns.a!.id, version: 1, idempotencyKey: "once", state: { type: "FAILED" } }],
      // A batch of which only a part was recorded with these keys.
      [
        { taskRunId: run.taskRuns.a!.id, version: 1, idempotencyKey: "once", state: { type: "RUNNING" } },
        { taskRunId: run.taskRuns.b!.id, version: 1, idempotencyKey: "once", state: { type: "RUNNING" } },
      ],
    ];
    for (const input of cases) {
      const errors = await t.fail(SetTaskRunStates, { input });
      expect(errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      expect(errors[0]?.message).toMatch(/a retry must repeat the same batch/);
    }
  });

  test("are checked like any text", async ({ t }) => {
    const run = await startRun(t, { name: "bad-keys", tasks: [{ name: "a" }] });
    for (const idempotencyKey of ["", "k\u0000", "k".repeat(201)]) {
      const errors = await t.fail(SetTaskRunStates, {
        input: [{ taskRunId: run.taskRuns.a!.id, version: 1, idempotencyKey, state: { type: "RUNNING" } }],
      });
      expect(errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    }
  });
});
