import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import {
  freePort,
  type GcsEmulator,
  type S3Emulator,
  startGcsEmulator,
  startS3Emulator,
} from "../support/emulators.js";
import { startRun, succeed } from "../support/flows.js";
import { recorded } from "../support/inspect.js";

describe("object-store faults", () => {
  let s3: S3Emulator;
  let gcs: GcsEmulator;
  let t: TestApp;
  beforeAll(async () => {
    s3 = await startS3Emulator();
    await s3.createBucket("results");
    gcs = await startGcsEmulator();
    t = await startTestApp({
      ...s3.env(["results"]),
      HANDLED_GCS_BUCKETS: "gcs-results",
      HANDLED_GCS_PROJECT_ID: "handled-test",
    });
  });
  afterAll(async () => {
    await t.stop();
    await s3.stop();
  });

  it("reports an S3 object deleted behind the server's back as a field error on value alone", async () => {
    const run = await startRun(t, {
      name: "s3-gone",
      tasks: [{ name: "work", handler: { type: "S3", bucket: "results" } }],
    });
    const result = await succeed(t, run.taskRuns.work!, { will: "vanish" });
    await s3.client.send(
      new DeleteObjectCommand({ Bucket: "results", Key: result.handle.replace("s3://results/", "") }),
    );

    const read = await t.run(GetTaskRun, { id: run.taskRuns.work!.id });

    expect(read.errors?.map((e) => [e.extensions?.code, e.path?.join(".")]).sort()).toEqual([
      ["RESULT_NOT_FOUND", "taskRun.state.result.value"],
      ["RESULT_NOT_FOUND", "taskRun.states.nodes.1.result.value"],
    ]);
    expect(read.data?.taskRun?.state).toMatchObject({
      type: "SUCCESS",
      version: 2,
      result: { handle: result.handle, handler: { type: "S3", bucket: "results" }, handled: true, value: null },
    });
  });

  it("reports a GCS object deleted behind the server's back as a field error on value alone", async () => {
    const run = await startRun(t, {
      name: "gcs-gone",
      tasks: [{ name: "work", handler: { type: "GCS", bucket: "gcs-results" } }],
    });
    const result = await succeed(t, run.taskRuns.work!, { will: "vanish" });
    await gcs.storage.bucket("gcs-results").file(result.handle.replace("gs://gcs-results/", "")).delete();

    const read = await t.run(GetTaskRun, { id: run.taskRuns.work!.id });

    expect(read.errors?.map((e) => [e.extensions?.code, e.path?.join(".")]).sort()).toEqual([
      ["RESULT_NOT_FOUND", "taskRun.state.result.value"],
      ["RESULT_NOT_FOUND", "taskRun.states.nodes.1.result.value"],
    ]);
    expect(read.data?.taskRun?.state).toMatchObject({
      type: "SUCCESS",
      result: { handle: result.handle, value: null },
    });
  });

  it("fails a write to an unreachable S3 store with RESULT_WRITE_FAILED and records nothing", async () => {
    const unreachable = await startTestApp({
      ...s3.env(["results"]),
      HANDLED_S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
    });
    try {
      const run = await startRun(unreachable, {
        name: "s3-down",
        tasks: [{ name: "local" }, { name: "remote", handler: { type: "S3", bucket: "results" } }],
      });
      const before = await recorded(unreachable);

      const errors = await unreachable.fail(SetTaskRunStates, {
        input: [
          {
            taskRunId: run.taskRuns.local!.id,
            version: 1,
            state: { type: "SUCCESS", result: { value: "written, then removed" } },
          },
          {
            taskRunId: run.taskRuns.remote!.id,
            version: 1,
            state: { type: "SUCCESS", result: { value: "never stored" } },
          },
        ],
      });

      expect(errors[0]?.extensions?.code).toBe("RESULT_WRITE_FAILED");
      expect(errors[0]?.message).toBe('Cannot write a result to the S3 bucket "results".');
      expect(await recorded(unreachable)).toEqual(before);
    } finally {
      await unreachable.stop();
    }
  });

  it("fails a write to an unreachable GCS store with RESULT_WRITE_FAILED and records nothing, while stored values still answer", async () => {
    const run = await startRun(t, {
      name: "gcs-down",
      tasks: [
        { name: "a", handler: { type: "GCS", bucket: "gcs-results" } },
        { name: "b", handler: { type: "GCS", bucket: "gcs-results" } },
      ],
    });
    const earlier = await succeed(t, run.taskRuns.a!, "stored before the outage");
    await gcs.stop();
    const before = await recorded(t);

    const errors = await t.fail(SetTaskRunStates, {
      input: [
        { taskRunId: run.taskRuns.b!.id, version: 1, state: { type: "SUCCESS", result: { value: "never stored" } } },
      ],
    });
    const read = await t.run(GetTaskRun, { id: run.taskRuns.a!.id });

    expect(errors[0]?.extensions?.code).toBe("RESULT_WRITE_FAILED");
    expect(await recorded(t)).toEqual(before);
    expect(read.errors?.[0]?.extensions?.code).toBe("RESULT_READ_FAILED");
    expect(read.data?.taskRun?.state.result).toMatchObject({ handle: earlier.handle, value: null });
  });
});
