import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect } from "vitest";
import { startTestApp } from "../support/app.js";
import { CreateFlow, GetFlowRun, GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { everyStoredText } from "../support/inspect.js";

const test = apiTest.override("env", { scope: "file" }, async ({ s3, gcs }) => {
  await s3.createBucket("handled-results");
  await s3.createBucket("not-ours");
  return { ...s3.env(["handled-results"]), ...gcs.env(["handled-gcs"]) };
});

describe("a flow whose tasks write to S3, GCS and disk", () => {
  test("writes each result with its handler, reads every value back, and keeps none in the database", async ({
    t,
    s3,
    gcs,
  }) => {
    const run = await startRun(
      t,
      {
        name: "crossing",
        tasks: [
          { name: "day", isParameter: true },
          { name: "extract", handler: { type: "S3", bucket: "handled-results", prefix: "raw" } },
          { name: "transform", handler: { type: "GCS", bucket: "handled-gcs", prefix: "clean" } },
          { name: "load" },
        ],
      },
      [{ name: "day", value: "2026-11-22" }],
    );
    const extracted = { rows: ["S3-SECRET-ROW-1", "S3-SECRET-ROW-2"] };
    const transformed = { total: 2, note: "GCS-SECRET-NOTE" };

    const extract = await succeed(t, run.taskRuns.extract!, extracted);
    const transform = await succeed(t, run.taskRuns.transform!, transformed);
    const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: run.taskRuns.load!.id,
          version: 1,
          state: {
            type: "RETRYING",
            message: "warehouse busy",
            cachedInputs: [
              { name: "day", upstreamTaskRunId: run.taskRuns.day!.id },
              { name: "rows", upstreamTaskRunId: run.taskRuns.extract!.id },
              {
                name: "summary",
                upstreamTaskRunId: run.taskRuns.transform!.id,
                value: { total: 2, note: "GCS-SECRET-CACHED" },
              },
            ],
          },
        },
      ],
    });

    expect(extract.handle).toMatch(/^s3:\/\/handled-results\/raw\/[0-9a-f-]{36}\.json$/);
    expect(extract.handler).toEqual({
      type: "S3",
      bucket: "handled-results",
      prefix: "raw",
      dir: null,
      codecs: [],
      inlineBelowBytes: null,
    });
    expect(transform.handle).toMatch(/^gs:\/\/handled-gcs\/clean\/[0-9a-f-]{36}\.json$/);
    const cached = Object.fromEntries(
      setTaskRunStates[0]!.state.cachedInputs.map((input) => [input.name, input.result]),
    );
    expect(cached.day).toMatchObject({ handler: { type: "JSON" }, value: "2026-11-22" });
    expect(cached.rows).toMatchObject({ handle: extract.handle, value: extracted });
    expect(cached.summary).toMatchObject({
      handler: { type: "GCS", bucket: "handled-gcs", prefix: "clean" },
      value: { total: 2, note: "GCS-SECRET-CACHED" },
    });

    // Read back through the API, in a fresh query.
    const readExtract = await t.ok(GetTaskRun, { id: run.taskRuns.extract!.id });
    const readTransform = await t.ok(GetTaskRun, { id: run.taskRuns.transform!.id });
    const readLoad = await t.ok(GetTaskRun, { id: run.taskRuns.load!.id });
    const { flowRun } = await t.ok(GetFlowRun, { id: run.flowRunId });
    expect(readExtract.taskRun?.state.result).toMatchObject({ value: extracted });
    expect(readTransform.taskRun?.state.result).toMatchObject({ value: transformed });
    expect(
      readLoad.taskRun?.state.cachedInputs.map((input) => input.result.__typename === "Result" && input.result.value),
    ).toEqual(["2026-11-22", extracted, { total: 2, note: "GCS-SECRET-CACHED" }]);
    expect(flowRun?.parameters[0]?.result).toMatchObject({ value: "2026-11-22" });

    // The objects are really in the stores, as JSON.
    const object = await s3.client.send(
      new GetObjectCommand({ Bucket: "handled-results", Key: extract.handle.replace("s3://handled-results/", "") }),
    );
    expect(JSON.parse(await object.Body!.transformToString())).toEqual(extracted);
    const [contents] = await gcs.storage
      .bucket("handled-gcs")
      .file(transform.handle.replace("gs://handled-gcs/", ""))
      .download();
    expect(JSON.parse(contents.toString())).toEqual(transformed);

    const stored = await everyStoredText(t);
    for (const secret of ["S3-SECRET-ROW", "GCS-SECRET-NOTE", "GCS-SECRET-CACHED"])
      expect(stored).not.toContain(secret);
    expect(stored).toContain(extract.handle);
  });

  test("uses an object store as the server default", async ({ s3 }) => {
    const other = await startTestApp({
      ...s3.env([]),
      HANDLED_DEFAULT_HANDLER: "S3",
      HANDLED_DEFAULT_HANDLER_BUCKET: "handled-results",
      HANDLED_DEFAULT_HANDLER_PREFIX: "default",
    });
    try {
      const { createFlow } = await other.ok(CreateFlow, { input: { name: "defaults", tasks: [{ name: "work" }] } });
      expect(createFlow.tasks[0]!.resolvedHandler).toEqual({
        type: "S3",
        bucket: "handled-results",
        prefix: "default",
        dir: null,
        codecs: [],
        inlineBelowBytes: null,
      });
      const run = await startRun(other, { name: "defaults", tasks: [{ name: "work" }] });

      const result = await succeed(other, run.taskRuns.work!, [1, 2, 3]);

      expect(result.handle).toMatch(/^s3:\/\/handled-results\/default\//);
      expect(result.value).toEqual([1, 2, 3]);
    } finally {
      await other.stop();
    }
  });

  test("accepts a result a client wrote to an allowed bucket itself, and refuses other buckets", async ({ t, s3 }) => {
    await s3.client.send(
      new PutObjectCommand({ Bucket: "handled-results", Key: "client/own.json", Body: '{"by":"client"}' }),
    );
    await s3.client.send(
      new PutObjectCommand({ Bucket: "not-ours", Key: "client/own.json", Body: '{"password":"hunter2"}' }),
    );
    const run = await startRun(t, { name: "client-side", tasks: [{ name: "a" }, { name: "b" }, { name: "c" }] });
    const handled = (bucket: string, handle: string) => ({
      handled: { handler: { type: "S3" as const, bucket }, handle },
    });

    const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: run.taskRuns.a!.id,
          version: 1,
          state: { type: "SUCCESS", result: handled("handled-results", "s3://handled-results/client/own.json") },
        },
      ],
    });
    expect(setTaskRunStates[0]!.state.result).toMatchObject({
      handle: "s3://handled-results/client/own.json",
      value: { by: "client" },
    });

    for (const [bucket, handle] of [
      ["not-ours", "s3://not-ours/client/own.json"],
      ["handled-results", "s3://not-ours/client/own.json"],
    ] as const) {
      const errors = await t.fail(SetTaskRunStates, {
        input: [
          { taskRunId: run.taskRuns.b!.id, version: 1, state: { type: "SUCCESS", result: handled(bucket, handle) } },
        ],
      });
      expect(errors[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
      expect(JSON.stringify(errors)).not.toContain("hunter2");
    }
    const gcsErrors = await t.fail(SetTaskRunStates, {
      input: [
        {
          taskRunId: run.taskRuns.c!.id,
          version: 1,
          state: {
            type: "SUCCESS",
            result: {
              handled: { handler: { type: "GCS", bucket: "someone-elses" }, handle: "gs://someone-elses/x.json" },
            },
          },
        },
      ],
    });
    expect(gcsErrors[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
    expect(
      await t.sql(`SELECT version FROM task_run WHERE id = ANY($1::uuid[]) ORDER BY version`, [
        [run.taskRuns.b!.id, run.taskRuns.c!.id],
      ]),
    ).toEqual([{ version: 1 }, { version: 1 }]);
  });

  test("refuses to read a stored handle that was changed to name another bucket", async ({ t }) => {
    const run = await startRun(t, {
      name: "tampered",
      tasks: [{ name: "work", handler: { type: "S3", bucket: "handled-results" } }],
    });
    const result = await succeed(t, run.taskRuns.work!, "ours");
    await t.sql(`UPDATE result SET handle = 's3://not-ours/client/own.json' WHERE id = $1`, [result.id]);
    const read1 = await t.run(GetTaskRun, { id: run.taskRuns.work!.id });
    await t.sql(`UPDATE result SET handler_config = '{"bucket":"not-ours"}' WHERE id = $1`, [result.id]);
    const read2 = await t.run(GetTaskRun, { id: run.taskRuns.work!.id });

    for (const read of [read1, read2]) {
      expect(read.errors?.[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
      expect(JSON.stringify(read)).not.toContain("hunter2");
      expect(read.data?.taskRun?.state.type).toBe("SUCCESS");
    }
  });
});
