import { access, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import type { ResultHandlerInput } from "@handled/client";
import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import {
  CreateFlowRun,
  DeleteFlow,
  DeleteFlowRun,
  GetFlowRun,
  GetTaskRun,
  SetTaskRunStates,
  SetTaskRunStatesLean,
} from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { INTENT_ROWS } from "../support/inspect.js";
import { metricsText } from "../support/metrics.js";

// Deleting a flow run (or a flow) removes its rows and the files and objects its results point
// at, except those another result still points at, and those outside the server's reach.

const test = apiTest.override("env", { scope: "file" }, async ({ s3, gcs }) => {
  await s3.createBucket("doomed");
  return { ...s3.env(["doomed"]), ...gcs.env(["doomed-gcs"]) };
});

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function rowCounts(t: TestApp) {
  const [row] = await t.sql<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM flow) AS flows, (SELECT count(*)::int FROM flow_run) AS runs,
            (SELECT count(*)::int FROM result) AS results, ${INTENT_ROWS} AS intents`,
  );
  return row!;
}

describe("deleting", () => {
  test("a flow run removes its rows and its objects on LOCAL, S3 and GCS, and nothing of other runs", async ({
    t,
    s3,
    gcs,
  }) => {
    const flow = {
      name: "doomed",
      tasks: [
        { name: "n", isParameter: true },
        { name: "local", handler: { type: "LOCAL" as const, dir: t.resultsDir } },
        { name: "s3", handler: { type: "S3" as const, bucket: "doomed", prefix: "runs" } },
        { name: "gcs", handler: { type: "GCS" as const, bucket: "doomed-gcs", prefix: "runs" } },
      ],
    };
    const doomed = await startRun(t, flow, [{ name: "n", value: 1 }]);
    const kept = await startRun(t, { ...flow, name: "kept" }, [{ name: "n", value: 2 }]);
    const handles: Record<string, string> = {};
    for (const run of [doomed, kept]) {
      for (const task of ["local", "s3", "gcs"]) {
        const result = await succeed(t, run.taskRuns[task]!, { task, run: run.flowRunId });
        handles[`${run === doomed ? "doomed" : "kept"}-${task}`] = result.handle;
      }
    }
    const s3Keys = async () =>
      ((await s3.client.send(new ListObjectsV2Command({ Bucket: "doomed" }))).Contents ?? []).map((o) => o.Key);
    const gcsKeys = async () => (await gcs.storage.bucket("doomed-gcs").getFiles())[0].map((f) => f.name);
    expect(await s3Keys()).toHaveLength(2);
    expect(await gcsKeys()).toHaveLength(2);
    const before = await rowCounts(t);

    const { deleteFlowRun } = await t.ok(DeleteFlowRun, { id: doomed.flowRunId });

    // Four results: the parameter (JSON: no object) and three objects.
    expect(deleteFlowRun).toEqual({ flows: 0, flowRuns: 1, results: 4, objectsDeleted: 3, objectsPending: 0 });
    expect(await exists(handles["doomed-local"]!)).toBe(false);
    expect(await exists(handles["kept-local"]!)).toBe(true);
    expect(await s3Keys()).toEqual([handles["kept-s3"]!.replace("s3://doomed/", "")]);
    expect(await gcsKeys()).toEqual([handles["kept-gcs"]!.replace("gs://doomed-gcs/", "")]);
    expect(await rowCounts(t)).toEqual({ ...before, runs: before.runs! - 1, results: before.results! - 4, intents: 0 });
    expect((await t.ok(GetFlowRun, { id: doomed.flowRunId })).flowRun).toBeNull();
    const still = await t.run(GetTaskRun, { id: kept.taskRuns.s3!.id });
    expect(still.errors).toBeUndefined();
    expect(still.data?.taskRun?.state.result).toMatchObject({ value: { task: "s3", run: kept.flowRunId } });

    // Counted by handler, with their bytes.
    const metrics = await metricsText(t);
    for (const handler of ["LOCAL", "S3", "GCS"]) {
      expect(metrics).toContain(`handled_storage_reclaimed_objects_total{handler="${handler}"} 1`);
      expect(metrics).toMatch(new RegExp(`handled_storage_reclaimed_bytes_total\\{handler="${handler}"\\} [1-9]`));
    }

    // Gone is gone: a second delete, an unknown id, and an id that is not one are NOT_FOUND.
    for (const id of [doomed.flowRunId, "00000000-0000-4000-8000-000000000000", "nope"]) {
      const again = await t.run(DeleteFlowRun, { id });
      expect(again.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    }
  });

  test("keeps an object another result still points at, and counts a shared result once", async ({ t }) => {
    const handler = { type: "LOCAL" as const, dir: t.resultsDir };
    const upstream = await startRun(t, { name: "shared", tasks: [{ name: "a" }, { name: "b" }], handler });
    const a = await succeed(t, upstream.taskRuns.a!, { rows: [1, 2, 3] });
    // b caches a's result by reference: it shares a's result row.
    await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: upstream.taskRuns.b!.id,
          version: 1,
          state: { type: "RETRYING", cachedInputs: [{ name: "rows", upstreamTaskRunId: upstream.taskRuns.a!.id }] },
        },
      ],
    });
    // Another run records a's file again, as a client's own result.
    const twice = await startRun(t, { name: "shared-twice", tasks: [{ name: "a" }], handler });
    await t.ok(SetTaskRunStatesLean, {
      input: [
        {
          taskRunId: twice.taskRuns.a!.id,
          version: 1,
          state: { type: "SUCCESS", result: { handled: { handler, handle: a.handle } } },
        },
      ],
    });

    const first = await t.ok(DeleteFlowRun, { id: upstream.flowRunId });
    // One result row (a's, which b's cached input shared); its file is still the other run's.
    expect(first.deleteFlowRun).toEqual({ flows: 0, flowRuns: 1, results: 1, objectsDeleted: 0, objectsPending: 0 });
    expect(await exists(a.handle)).toBe(true);
    const still = await t.run(GetTaskRun, { id: twice.taskRuns.a!.id });
    expect(still.data?.taskRun?.state.result).toMatchObject({ value: { rows: [1, 2, 3] } });

    // The last result pointing at it goes: so does the file.
    const second = await t.ok(DeleteFlowRun, { id: twice.flowRunId });
    expect(second.deleteFlowRun).toMatchObject({ results: 1, objectsDeleted: 1 });
    expect(await exists(a.handle)).toBe(false);
  });

  test("a flow removes every run of it, a client's object within reach, and leaves one outside", async ({
    t,
    s3,
    tempDir,
  }) => {
    const flow = { name: "whole", tasks: [{ name: "x" }], handler: { type: "LOCAL" as const, dir: t.resultsDir } };
    const first = await startRun(t, flow);
    const { createFlowRun } = await t.ok(CreateFlowRun, { input: { flowId: first.flowId } });
    const second = {
      ...first,
      flowRunId: createFlowRun.id,
      taskRuns: { x: { id: createFlowRun.taskRuns.nodes[0]!.id, version: 1 } },
    };
    const written = [await succeed(t, first.taskRuns.x!, 1), await succeed(t, second.taskRuns.x!, 2)];
    const { deleteFlow } = await t.ok(DeleteFlow, { id: first.flowId });
    expect(deleteFlow).toEqual({ flows: 1, flowRuns: 2, results: 2, objectsDeleted: 2, objectsPending: 0 });
    for (const { handle } of written) expect(await exists(handle)).toBe(false);

    // A client's object in a bucket the server may use goes with its result: the server's reach is the rule.
    await s3.client.send(new PutObjectCommand({ Bucket: "doomed", Key: "client/own.json", Body: "[1]" }));
    // And a client's file in a directory the server may not use (as after a restart that dropped
    // it from HANDLED_LOCAL_DIRS) stays: it is the client's.
    const outside = await tempDir("handled-outside-");
    const file = join(outside, "client.json");
    await writeFile(file, "[2]");
    const clients = await startRun(t, { name: "clients", tasks: [{ name: "inside" }, { name: "outside" }] });
    const record = (task: string, handler: ResultHandlerInput, handle: string) => ({
      taskRunId: clients.taskRuns[task]!.id,
      version: 1,
      state: { type: "SUCCESS" as const, result: { handled: { handler, handle } } },
    });
    await t.ok(SetTaskRunStatesLean, {
      input: [record("inside", { type: "S3", bucket: "doomed", prefix: "client" }, "s3://doomed/client/own.json")],
    });
    await writeFile(join(t.resultsDir, "moved.json"), "[2]");
    await t.ok(SetTaskRunStatesLean, {
      input: [record("outside", { type: "LOCAL", dir: t.resultsDir }, join(t.resultsDir, "moved.json"))],
    });
    await t.sql(`UPDATE result SET handler_config = $1, handle = $2 WHERE handle = $3`, [
      { dir: outside },
      file,
      join(t.resultsDir, "moved.json"),
    ]);

    const { deleteFlow: other } = await t.ok(DeleteFlow, { id: clients.flowId });
    expect(other).toEqual({ flows: 1, flowRuns: 1, results: 2, objectsDeleted: 1, objectsPending: 0 });
    expect(await readdir(outside)).toEqual(["client.json"]);
    expect((await rowCounts(t)).intents).toBe(0);
    await expect(s3.client.send(new GetObjectCommand({ Bucket: "doomed", Key: "client/own.json" }))).rejects.toThrow();
  });
});
