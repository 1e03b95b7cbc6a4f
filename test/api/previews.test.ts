import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import { ListTaskRuns, SetTaskRunStates, TaskRunHistory } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

// A UI shows results without pulling whole values: every result has its size, and a preview of
// its first bytes is read from storage without the rest.

const test = apiTest.override("env", { scope: "file" }, async ({ s3, gcs }) => {
  await s3.createBucket("previews");
  return { ...s3.env(["previews"]), ...gcs.env(["previews-gcs"]) };
});

/** The current result of a task run with a preview of `previewBytes`. */
async function latestResult(t: TestApp, taskRunId: string, previewBytes: number) {
  const { taskRun } = await t.ok(TaskRunHistory, { id: taskRunId, first: 500, previewBytes });
  const result = taskRun!.states.nodes.at(-1)!.result;
  if (result.__typename !== "Result") throw new Error("expected a result");
  return result;
}

const handlers = [
  ["JSON", { type: "JSON" as const }],
  ["LOCAL", undefined], // the server default
  ["S3", { type: "S3" as const, bucket: "previews" }],
  ["GCS", { type: "GCS" as const, bucket: "previews-gcs" }],
] as const;

describe.each(handlers)("a result written with the %s handler", (_name, handler) => {
  const value = { city: "Zürich", note: "é".repeat(100) };
  const json = JSON.stringify(value);

  test("has its size in bytes, and a preview cut to whole characters", async ({ t }) => {
    const run = await startRun(t, { name: "previewed", handler, tasks: [{ name: "out" }] });
    await succeed(t, run.taskRuns.out!, value);

    // `{"city":"Z` is 10 bytes and the ü the next two: 11 bytes cut it in half, so it is left out.
    const cut = await latestResult(t, run.taskRuns.out!.id, 11);
    expect(cut.sizeBytes).toBe(Buffer.byteLength(json));
    expect(cut.preview).toEqual({ text: '{"city":"Z', truncated: true });
    expect((await latestResult(t, run.taskRuns.out!.id, 12)).preview).toEqual({ text: '{"city":"Zü', truncated: true });
    expect((await latestResult(t, run.taskRuns.out!.id, 4096)).preview).toEqual({ text: json, truncated: false });
  });
});

test("previews a stored result whose data is no longer valid JSON, where its value fails", async ({ t }) => {
  const run = await startRun(t, { name: "corrupt", tasks: [{ name: "out" }] });
  const result = await succeed(t, run.taskRuns.out!, "fine");
  await writeFile(result.handle, "not json {");

  const { taskRun } = await t.ok(TaskRunHistory, { id: run.taskRuns.out!.id, previewBytes: 100 });
  expect(taskRun!.states.nodes.at(-1)!.result).toMatchObject({ preview: { text: "not json {", truncated: false } });
});

test("asks storage for the size of a result the client wrote itself", async ({ t }) => {
  const run = await startRun(t, { name: "pre-handled", tasks: [{ name: "out" }] });
  const file = join(t.resultsDir, "written-by-client.json");
  await writeFile(file, JSON.stringify({ rows: Array.from({ length: 100 }, (_, i) => i) }));

  const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
    input: [
      {
        taskRunId: run.taskRuns.out!.id,
        version: 1,
        state: {
          type: "SUCCESS",
          result: { handled: { handler: { type: "LOCAL", dir: t.resultsDir }, handle: file } },
        },
      },
    ],
  });
  const result = setTaskRunStates[0]!.state.result;
  expect(result).toMatchObject({
    __typename: "Result",
    handle: file,
    sizeBytes: JSON.stringify({ rows: Array.from({ length: 100 }, (_, i) => i) }).length,
  });
});

test("refuses previews of fewer than 1 or more than 65536 bytes", async ({ t }) => {
  const run = await startRun(t, { name: "bounds", tasks: [{ name: "out" }] });
  await succeed(t, run.taskRuns.out!, 1);
  for (const previewBytes of [0, 65537]) {
    const { errors } = await t.run(TaskRunHistory, { id: run.taskRuns.out!.id, previewBytes });
    expect({ previewBytes, codes: errors?.map((e) => e.extensions?.code) }).toEqual({
      previewBytes,
      codes: ["BAD_USER_INPUT"],
    });
  }
});

test("keeps a list whole when one result's data is gone: the error stays on that preview", async ({ t }) => {
  const run = await startRun(t, { name: "one-missing", tasks: [{ name: "kept" }, { name: "lost" }] });
  await succeed(t, run.taskRuns.kept!, "still here");
  const lost = await succeed(t, run.taskRuns.lost!, "about to vanish");
  await rm(lost.handle);

  const { data, errors } = await t.run(ListTaskRuns, { flowRunId: run.flowRunId, previewBytes: 100 });

  expect(errors?.map((e) => [e.extensions?.code, e.path?.join(".")])).toEqual([
    ["RESULT_NOT_FOUND", "flowRun.taskRuns.nodes.1.state.result.preview"],
  ]);
  expect(
    data?.flowRun?.taskRuns.nodes.map(({ task, state }) => [
      task.name,
      state.result.__typename === "Result" ? state.result.preview : null,
    ]),
  ).toEqual([
    ["kept", { text: '"still here"', truncated: false }],
    ["lost", null],
  ]);
});
