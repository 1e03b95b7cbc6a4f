import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { SetTaskRunStatesLean, TaskRunResultDownload } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";

// With credentials that can sign (a service account's key), a GCS result's download URL is a V4
// signed URL of the store's own, and the bytes come from the store, not through the API.

const test = apiTest.override("env", { scope: "file" }, async ({ gcs }) => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const file = join(tmpdir(), `handled-test-sa-${process.pid}.json`);
  await writeFile(
    file,
    JSON.stringify({
      type: "service_account",
      project_id: "handled-test",
      client_email: "results@handled-test.iam.gserviceaccount.com",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
    }),
  );
  // Read by Google's SDK, in this process (where the service runs).
  process.env.GOOGLE_APPLICATION_CREDENTIALS = file;
  return gcs.env(["signed-gcs"]);
});

describe("GCS downloads with signing credentials", () => {
  test("are V4 signed URLs of the store, and give the bytes back", async ({ t }) => {
    const run = await startRun(t, {
      name: "signed",
      tasks: [{ name: "out", handler: { type: "GCS", bucket: "signed-gcs", prefix: "up" } }],
    });
    const out = run.taskRuns.out!;
    const value = randomBytes(2 * 1024 * 1024);
    const uploaded = await t.client.uploadResult(out.id, value);
    const recorded = await t.run(SetTaskRunStatesLean, {
      input: [
        { taskRunId: out.id, version: out.version, state: { type: "SUCCESS", result: { handled: uploaded.handled } } },
      ],
    });
    expect(recorded.errors).toBeUndefined();
    const { taskRun } = await t.ok(TaskRunResultDownload, { id: out.id, expiresIn: 60 });
    const result = taskRun!.state.result;
    if (!("downloadUrl" in result)) throw new Error("no result");
    const url = new URL(result.downloadUrl);
    expect(url.host).not.toBe(new URL(t.app.url).host);
    expect(url.searchParams.get("X-Goog-Algorithm")).toBe("GOOG4-RSA-SHA256");
    expect(url.searchParams.get("X-Goog-Expires")).toBe("60");
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(value)).toBe(true);
    // Asked for ten days, given HANDLED_DOWNLOAD_URL_MAX_EXPIRY (an hour by default).
    const long = (await t.ok(TaskRunResultDownload, { id: out.id, expiresIn: 864_000 })).taskRun!.state.result;
    if (!("downloadUrl" in long)) throw new Error("no result");
    expect(new URL(long.downloadUrl).searchParams.get("X-Goog-Expires")).toBe("3600");
  });
});
