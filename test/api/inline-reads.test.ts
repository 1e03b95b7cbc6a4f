import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { metricsText, metricValue } from "../support/metrics.js";

// A value the JSON handler keeps is read from the row that holds it, with no handler call and no
// promise of its own, so that a page of them completes in one pass. These tests hold that path
// to the checks a read through the handler makes: a row altered in the database is refused on
// that field alone, and every value counts in the response's budget and the metrics.

const test = apiTest.override("env", { scope: "file" }, async () => ({
  HANDLED_MAX_RESPONSE_VALUES: "6",
  HANDLED_MAX_JSON_DEPTH: "20",
}));

const VALUES = `query($id: ID!) {
  flowRun(id: $id) { taskRuns(first: 20) { nodes { task { name } state { result { ... on Result { value } } } } } }
}`;

interface Answer {
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
  data?: {
    flowRun: { taskRuns: { nodes: { task: { name: string }; state: { result: { value?: unknown } } }[] } } | null;
  };
}

async function readValues(t: TestApp, flowRunId: string) {
  const response = await fetch(t.app.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: VALUES, variables: { id: flowRunId } }),
  });
  const answer = (await response.json()) as Answer;
  const nodes = answer.data?.flowRun?.taskRuns.nodes ?? [];
  // Each task's value, and the code of the error on it.
  return Object.fromEntries(
    nodes.map((node, i) => {
      const error = answer.errors?.find((e) => e.path?.[3] === i);
      return [node.task.name, error ? error.extensions?.code : node.state.result.value];
    }),
  );
}

/** The bytes of JSON values the service has read, from its /metrics. */
async function jsonBytesRead(t: TestApp): Promise<number> {
  return metricValue(await metricsText(t), "handled_handler_bytes_total", { handler: "JSON", call: "read" });
}

describe("values kept in the database by the JSON handler", () => {
  test("are served from their rows, and a row altered in the database fails its field alone", async ({ t }) => {
    const tasks = ["kept", "resized", "broken", "deep", "misnamed", "unhandled"];
    const run = await startRun(t, {
      name: "inline",
      handler: { type: "JSON" },
      tasks: tasks.map((name) => ({ name })),
    });
    const ids: Record<string, string> = {};
    for (const task of tasks) ids[task] = (await succeed(t, run.taskRuns[task]!, { task: "abc" })).id;
    const alter = (task: string, set: string, values: unknown[] = []) =>
      t.sql(`UPDATE result SET ${set} WHERE id = $1`, [ids[task], ...values]);
    // Another size than recorded; the same size but not JSON; JSON nested deeper than values may
    // be (its size recorded with it); a handler that is not a JSON handler's; never handled.
    await alter("resized", "handle = $2", [JSON.stringify({ task: "abcd" })]);
    await alter("broken", "handle = $2", ['{"task":"abc"]']);
    const deep = `${"[".repeat(30)}${"]".repeat(30)}`;
    await alter("deep", "handle = $2, size_bytes = $3", [deep, deep.length]);
    await alter("misnamed", `handler_config = '{"dir": "/"}'`);
    await alter("unhandled", "handled = false");

    expect(await readValues(t, run.flowRunId)).toEqual({
      kept: { task: "abc" },
      resized: "RESULT_INTEGRITY",
      broken: "RESULT_CORRUPT",
      deep: "RESULT_CORRUPT",
      misnamed: "RESULT_READ_FAILED",
      unhandled: "RESULT_NOT_HANDLED",
    });
  });

  test("count in the response's budget and in the bytes the JSON handler read", async ({ t }) => {
    const tasks = Array.from({ length: 8 }, (_, i) => `t${i}`);
    const run = await startRun(t, {
      name: "budget",
      handler: { type: "JSON" },
      tasks: tasks.map((name) => ({ name })),
    });
    for (const task of tasks) await succeed(t, run.taskRuns[task]!, task);
    const before = await jsonBytesRead(t);

    const values = await readValues(t, run.flowRunId);

    // HANDLED_MAX_RESPONSE_VALUES is 6: the last two are refused, the first six served.
    expect(Object.values(values)).toEqual([...tasks.slice(0, 6), "RESPONSE_TOO_LARGE", "RESPONSE_TOO_LARGE"]);
    expect((await jsonBytesRead(t)) - before).toBe(6 * 4); // "t0" is 4 bytes of JSON
  });

  test("recorded before sizes were kept are read through the handler, which measures them", async ({ t }) => {
    const run = await startRun(t, { name: "legacy", handler: { type: "JSON" }, tasks: [{ name: "old" }] });
    const result = await succeed(t, run.taskRuns.old!, [1, 2, 3]);
    await t.sql(`UPDATE result SET size_bytes = NULL WHERE id = $1`, [result.id]);

    expect(await readValues(t, run.flowRunId)).toEqual({ old: [1, 2, 3] });
  });
});
