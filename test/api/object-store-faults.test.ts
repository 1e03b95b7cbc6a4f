import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect } from "vitest";
import { startTestApp } from "../support/app.js";
import { GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { freePort } from "../support/emulators.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { recorded } from "../support/inspect.js";

const test = apiTest.override("env", { scope: "file" }, async ({ s3, gcs }) => {
  await s3.createBucket("results");
  return { ...s3.env(["results"]), ...gcs.env(["gcs-results"]) };
});

describe("object-store faults", () => {
  test("reports an S3 object deleted behind the server's back as a field error on value alone", async ({ t, s3 }) => {
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

  test("reports a GCS object deleted behind the server's back as a field error on value alone", async ({ t, gcs }) => {
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

  test("fails a write to an unreachable S3 store with RESULT_WRITE_FAILED and records nothing", async ({ s3 }) => {
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

  test("fails a write to an unreachable GCS store with RESULT_WRITE_FAILED and records nothing, while stored values still answer", async ({
    t,
    gcs,
  }) => {
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
