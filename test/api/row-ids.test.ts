import { describe, expect } from "vitest";
import { SetTaskRunStates } from "../support/documents.js";
import { test } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { UUID_V7 } from "../support/ids.js";

// Every row a run makes has a time-ordered id (UUID version 7): rows made later sort later, so
// inserts go to the right-hand end of the indexes their ids key, whatever the tables hold.

describe("row ids", () => {
  test("are time-ordered for flows, runs, task runs, states, results, cached inputs and batches", async ({ t }) => {
    const flow = {
      name: "ids",
      tasks: [{ name: "n", isParameter: true }, { name: "a" }, { name: "b" }],
    };
    const first = await startRun(t, flow, [{ name: "n", value: 1 }]);
    await succeed(t, first.taskRuns.a!, { rows: 1 });
    await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: first.taskRuns.b!.id,
          version: 1,
          state: {
            type: "RETRYING",
            cachedInputs: [{ name: "rows", upstreamTaskRunId: first.taskRuns.a!.id, value: { rows: 1 } }],
          },
        },
      ],
    });
    const second = await startRun(t, { ...flow, name: "ids-2" }, [{ name: "n", value: 2 }]);

    for (const table of ["flow", "task", "flow_run", "task_run", "state", "result", "cached_input", "batch_commit"]) {
      const ids = (await t.sql<{ id: string }>(`SELECT id::text FROM ${table}`)).map((row) => row.id);
      expect(ids.length, table).toBeGreaterThan(0);
      for (const id of ids) expect(id, table).toMatch(UUID_V7);
    }
    // Made later, sorted later: the second run's rows after the first's.
    expect(second.flowRunId > first.flowRunId).toBe(true);
    expect(second.taskRuns.a!.id > first.taskRuns.a!.id).toBe(true);
    const states = await t.sql<{ id: string }>(`SELECT id::text FROM state WHERE task_run_id = $1 ORDER BY version`, [
      first.taskRuns.a!.id,
    ]);
    expect(states.map((s) => s.id)).toEqual(states.map((s) => s.id).sort());
  });
});
