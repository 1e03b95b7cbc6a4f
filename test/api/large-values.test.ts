import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { GetTaskRun } from "../support/documents.js";
import { type S3Emulator, startS3Emulator } from "../support/emulators.js";
import { startRun, succeed } from "../support/flows.js";

describe("large values", () => {
  let s3: S3Emulator;
  let t: TestApp;
  beforeAll(async () => {
    s3 = await startS3Emulator();
    await s3.createBucket("big");
    // The default limits: a 50 MB value fits under the 64 MiB default.
    t = await startTestApp(s3.env(["big"]));
  });
  afterAll(async () => {
    await t.stop();
    await s3.stop();
  });

  it("round-trips a 50 MB value through the S3 handler via the API", async () => {
    const run = await startRun(t, {
      name: "big",
      tasks: [{ name: "dump", handler: { type: "S3", bucket: "big", prefix: "dumps" } }],
    });
    const blob = "0123456789abcdef".repeat((50 * 1000 * 1000) / 16);
    const value = { name: "dump", blob };

    const result = await succeed(t, run.taskRuns.dump!, value);

    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: "big", Key: result.handle.replace("s3://big/", "") }),
    );
    expect(head.ContentLength).toBe(JSON.stringify(value).length);
    expect(head.ContentLength).toBeGreaterThan(50_000_000);
    const read = await t.ok(GetTaskRun, { id: run.taskRuns.dump!.id });
    const stored = read.taskRun?.state.result;
    if (stored?.__typename !== "Result") throw new Error("expected a result");
    expect((stored.value as typeof value).blob.length).toBe(blob.length);
    expect(stored.value).toEqual(value);
  });
});
