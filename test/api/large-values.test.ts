import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect } from "vitest";
import { GetTaskRun } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

// The default limits: a 50 MB value fits under the 64 MiB default.
const test = apiTest.override("env", { scope: "file" }, async ({ s3 }) => {
  await s3.createBucket("big");
  return s3.env(["big"]);
});

describe("large values", () => {
  test("round-trips a 50 MB value through the S3 handler via the API", async ({ t, s3 }) => {
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
