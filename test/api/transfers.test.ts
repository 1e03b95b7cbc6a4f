import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import type { SetTaskRunStateInput, UploadedResult } from "@handled/client";
import { describe, expect } from "vitest";
import { SECRET_FILE } from "../../src/config/transfers.js";
import { TokenSigner } from "../../src/services/tokens.js";
import type { TestApp } from "../support/app.js";
import { PrepareResultUpload, SetTaskRunStatesLean, TaskRunResultDownload } from "../support/documents.js";
import { filesUnder } from "../support/files.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";
import { intentCount } from "../support/inspect.js";

// Large results move beside GraphQL: uploads prepared for a task run (presigned by S3 and GCS, or
// this API's signed URL), bodies streamed through the API, and download URLs. Each path carries a
// 50 MB value byte for byte on LOCAL, S3 and GCS; tokens that are expired, reused, forged or for
// another task run are refused, and a refused or aborted upload leaves nothing.

const MB = 1024 * 1024;
const KEY = Buffer.alloc(32, 7).toString("base64");

const test = apiTest.override("env", { scope: "file" }, async ({ s3, gcs }) => {
  await s3.createBucket("large");
  return {
    ...s3.env(["large"]),
    ...gcs.env(["large-gcs"]),
    HANDLED_ENCRYPTION_KEYS: `k1:${KEY}`,
    HANDLED_MAX_UPLOAD_BYTES: String(64 * MB),
  };
});

type Store = "LOCAL" | "S3" | "GCS";

const handlerOf = (t: TestApp, store: Store, codecs?: ("ZSTD" | "AES_256_GCM")[]) =>
  store === "LOCAL"
    ? { type: "LOCAL" as const, dir: t.resultsDir, ...(codecs ? { codecs } : {}) }
    : store === "S3"
      ? { type: "S3" as const, bucket: "large", prefix: "up", ...(codecs ? { codecs } : {}) }
      : { type: "GCS" as const, bucket: "large-gcs", prefix: "up", ...(codecs ? { codecs } : {}) };

/** A run whose task `out` writes to `store`. */
async function runFor(t: TestApp, store: Store, codecs?: ("ZSTD" | "AES_256_GCM")[]) {
  const run = await startRun(t, {
    name: `transfers-${store}-${randomBytes(4).toString("hex")}`,
    tasks: [
      { name: "out", handler: handlerOf(t, store, codecs) },
      { name: "other", handler: handlerOf(t, store, codecs) },
    ],
  });
  return { out: run.taskRuns.out!, other: run.taskRuns.other! };
}

async function record(t: TestApp, taskRun: { id: string; version: number }, handled: UploadedResult["handled"]) {
  const input: SetTaskRunStateInput[] = [
    { taskRunId: taskRun.id, version: taskRun.version, state: { type: "SUCCESS", result: { handled } } },
  ];
  const answer = await t.run(SetTaskRunStatesLean, { input });
  if (!answer.errors) taskRun.version += 1;
  return answer;
}

async function downloadUrl(t: TestApp, taskRunId: string, viaApi = false) {
  const { taskRun } = await t.ok(TaskRunResultDownload, { id: taskRunId, viaApi });
  const result = taskRun!.state.result;
  if (!("downloadUrl" in result)) throw new Error("no result");
  return result;
}

async function put(url: string, body: Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: "PUT", body, headers });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A PUT that reads the answer even when the server closes the connection before taking the whole body. */
function rawPut(url: string, body: Buffer): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "PUT", headers: { "content-length": String(body.length) } });
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
    });
    request.on("error", (error) => setTimeout(() => reject(error), 1000));
    request.end(body);
  });
}

const codeOf = (body: Record<string, unknown>) =>
  (body.errors as { extensions: { code: string } }[] | undefined)?.[0]?.extensions.code;

describe.each<Store>(["LOCAL", "S3", "GCS"])("%s: a 50 MB result", (store) => {
  const value = randomBytes(50 * MB);
  // The S3 emulator (fauxqs) takes at most 11 MiB in one request, where S3 takes 5 GiB: a client's
  // own PUT to a presigned URL is one request, so on the emulator it carries 10 MB.
  const presignedValue = store === "S3" ? value.subarray(0, 10 * MB) : value;

  test("goes up to the prepared URL and down from the download URL, byte for byte", async ({ t }) => {
    const value = presignedValue;
    const { out } = await runFor(t, store);
    const { prepareResultUpload: prepared } = await t.ok(PrepareResultUpload, {
      taskRunId: out.id,
      sizeBytes: value.length,
      contentType: "application/octet-stream",
    });
    // LOCAL: this API's signed URL; S3: a presigned PUT; GCS: a resumable upload session.
    if (store === "LOCAL") expect(prepared.url).toContain("/uploads/");
    else expect(prepared.url).not.toContain(new URL(t.app.url).host);
    const headers = Object.fromEntries(prepared.headers.map((h) => [h.name, h.value]));
    const sent = await fetch(prepared.url, { method: "PUT", body: value, headers });
    expect(sent.status).toBeLessThan(300);

    const recorded = await record(t, out, { handler: handlerOf(t, store), handle: prepared.handle });
    expect(recorded.errors).toBeUndefined();
    const result = await downloadUrl(t, out.id);
    expect(result.sizeBytes).toBe(value.length);
    const got = Buffer.from(await (await fetch(result.downloadUrl)).arrayBuffer());
    expect(got.equals(value)).toBe(true);
    // The prepared upload's intent went with the state that recorded it.
    expect(await intentCount(t)).toBe(0);
  });

  test("streams through PUT /results/<taskRunId> and back through GET /results/<id>", async ({ t }) => {
    const { out } = await runFor(t, store);
    const answer = await put(new URL(`/results/${out.id}`, t.app.url).toString(), value);
    expect(answer.status).toBe(200);
    expect(answer.body.sizeBytes).toBe(value.length);
    const recorded = await record(t, out, {
      handler: handlerOf(t, store),
      handle: answer.body.handle as string,
      sha256: answer.body.sha256 as string,
    });
    expect(recorded.errors).toBeUndefined();
    const result = await downloadUrl(t, out.id, true);
    expect(result.sha256).toBe(answer.body.sha256);
    const response = await fetch(result.downloadUrl);
    expect(response.headers.get("content-length")).toBe(String(value.length));
    expect(response.headers.get("etag")).toBe(`"${answer.body.sha256}"`);
    expect(Buffer.from(await response.arrayBuffer()).equals(value)).toBe(true);
    // A range of it, as a resumed download asks.
    const ranged = await fetch(result.downloadUrl, { headers: { range: "bytes=1000-1999" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes 1000-1999/${value.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(value.subarray(1000, 2000))).toBe(true);
  });

  test("goes up and down with the SDK, by the presigned path and through the API", async ({ t }) => {
    for (const via of ["presigned", "api"] as const) {
      const bytes = via === "presigned" ? presignedValue : value;
      const { out } = await runFor(t, store);
      const uploaded = await t.client.uploadResult(out.id, bytes, { via });
      expect((await record(t, out, uploaded.handled)).errors).toBeUndefined();
      expect(Buffer.from(await t.client.downloadResult(out.id)).equals(bytes)).toBe(true);
    }
  });
});

describe("the SDK", () => {
  test.for<Store>(["LOCAL", "S3", "GCS"])(
    "%s: uploads a stream of known size, and streams it back",
    async (store, { t }) => {
      const value = randomBytes(3 * MB + 17);
      for (const via of ["presigned", "api"] as const) {
        const { out } = await runFor(t, store);
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0; at < value.length; at += 256 * 1024)
              controller.enqueue(value.subarray(at, at + 256 * 1024));
            controller.close();
          },
        });
        const uploaded = await t.client.uploadResult(out.id, stream, { via, sizeBytes: value.length });
        expect(uploaded.handled.sizeBytes).toBe(value.length);
        expect((await record(t, out, uploaded.handled)).errors).toBeUndefined();
        const back = Buffer.from(await new Response(await t.client.openResult(out.id)).arrayBuffer());
        expect(back.equals(value)).toBe(true);
      }
    },
  );
});

describe("codecs on the upload paths", () => {
  test.for<Store>(["LOCAL", "S3", "GCS"])(
    "%s: a handler with ZSTD and AES_256_GCM gets the bytes through the API, stored encoded",
    async (store, { t, s3, gcs }) => {
      const { out } = await runFor(t, store, ["ZSTD", "AES_256_GCM"]);
      const value = Buffer.from(JSON.stringify({ rows: Array.from({ length: 20_000 }, (_, i) => ({ i })) }));
      const { prepareResultUpload: prepared } = await t.ok(PrepareResultUpload, { taskRunId: out.id });
      expect(prepared.url).toContain("/uploads/");
      const answer = await put(prepared.url, value);
      expect(answer.status).toBe(200);
      expect((await record(t, out, { handler: handlerOf(t, store), handle: prepared.handle })).errors).toBeUndefined();
      const result = await downloadUrl(t, out.id);
      expect(Buffer.from(await (await fetch(result.downloadUrl)).arrayBuffer()).equals(value)).toBe(true);
      // What is stored is not the value: compressed, then encrypted.
      const stored =
        store === "LOCAL"
          ? await readFile(prepared.handle)
          : store === "S3"
            ? Buffer.from(
                await (
                  await s3.client.send(
                    new (
                      await import("@aws-sdk/client-s3")
                    ).GetObjectCommand({
                      Bucket: "large",
                      Key: prepared.handle.replace("s3://large/", ""),
                    }),
                  )
                ).Body!.transformToByteArray(),
              )
            : (
                await gcs.storage.bucket("large-gcs").file(prepared.handle.replace("gs://large-gcs/", "")).download()
              )[0];
      expect(stored.length).toBeLessThan(value.length / 4);
      expect(stored.includes(Buffer.from('"rows"'))).toBe(false);
    },
  );
});

describe("tokens and handles that are refused", () => {
  async function prepareLocal(t: TestApp, sizeBytes?: number) {
    const { out, other } = await runFor(t, "LOCAL");
    const { prepareResultUpload: prepared } = await t.ok(PrepareResultUpload, {
      taskRunId: out.id,
      ...(sizeBytes === undefined ? {} : { sizeBytes }),
    });
    return { out, other, prepared };
  }

  test("a token is used once; forged, altered and expired tokens get 403 and write nothing", async ({ t }) => {
    const { prepared } = await prepareLocal(t);
    const before = await filesUnder(t.resultsDir);
    const token = prepared.url.split("/uploads/")[1]!;
    const [claims] = token.split(".");
    const forged = `${claims}.${Buffer.alloc(32).toString("base64url")}`;
    const altered = `${Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(claims!, "base64url").toString()), handle: "/etc/passwd" }),
    ).toString("base64url")}.${token.split(".")[1]}`;
    for (const bad of [forged, altered, "nonsense"]) {
      const answer = await put(prepared.url.replace(token, bad), Buffer.from("x"));
      expect(answer.status).toBe(403);
      expect(codeOf(answer.body)).toBe("TOKEN_INVALID");
    }
    // Signed with the server's secret, but expired.
    const secret = (await readFile(join(t.config.dataDir, SECRET_FILE), "utf8")).trim();
    const expired = new TokenSigner(secret).sign({
      ...JSON.parse(Buffer.from(claims!, "base64url").toString()),
      expiresAt: Math.floor(Date.now() / 1000) - 1,
    });
    expect((await put(prepared.url.replace(token, expired), Buffer.from("x"))).status).toBe(403);
    expect(await filesUnder(t.resultsDir)).toEqual(before);

    expect((await put(prepared.url, Buffer.from('"first"'))).status).toBe(200);
    const again = await put(prepared.url, Buffer.from('"second"'));
    expect(again.status).toBe(403);
    expect(codeOf(again.body)).toBe("TOKEN_INVALID");
    expect(await readFile(prepared.handle, "utf8")).toBe('"first"');
  });

  test("a body larger than declared is cut off with 413 and leaves no file and no intent", async ({ t }) => {
    const { prepared, out } = await prepareLocal(t, 1000);
    const intents = await intentCount(t);
    const answer = await rawPut(prepared.url, randomBytes(2000));
    expect(answer.status).toBe(413);
    expect(codeOf(answer.body)).toBe("PAYLOAD_TOO_LARGE");
    expect(await filesUnder(t.resultsDir)).not.toContain(prepared.handle);
    expect(await intentCount(t)).toBe(intents - 1);
    // Nothing to record: the handle is gone.
    const recorded = await record(t, out, { handler: handlerOf(t, "LOCAL"), handle: prepared.handle });
    expect(recorded.errors?.[0]?.extensions?.code).toBe("RESULT_NOT_FOUND");
  });

  test("an aborted upload leaves no file, no intent and no result", async ({ t }) => {
    const { prepared } = await prepareLocal(t);
    const [results, intents] = [await t.sql("SELECT id FROM result"), await intentCount(t)];
    await new Promise<void>((resolve) => {
      const request = httpRequest(prepared.url, { method: "PUT", headers: { "content-length": String(10 * MB) } });
      request.on("error", () => resolve());
      request.write(randomBytes(MB), () => setTimeout(() => request.destroy(), 100));
      request.on("close", () => resolve());
    });
    // The server notices the connection gone, removes what it wrote, and forgets the upload.
    await expect.poll(() => intentCount(t), { timeout: 5000 }).toBe(intents - 1);
    expect(await filesUnder(t.resultsDir)).not.toContain(prepared.handle);
    expect(await t.sql("SELECT id FROM result")).toEqual(results);
  });

  test("a handle prepared for one task run is refused for another, and once expired", async ({ t }) => {
    const { prepared, out, other } = await prepareLocal(t);
    expect((await put(prepared.url, Buffer.from('"v"'))).status).toBe(200);
    const handled = { handler: handlerOf(t, "LOCAL"), handle: prepared.handle };
    const wrong = await record(t, other, handled);
    expect(wrong.errors?.[0]?.extensions?.code).toBe("UPLOAD_NOT_PREPARED");
    await t.sql("UPDATE storage_intent SET expires_at = now() - interval '1 second' WHERE handle = $1", [
      prepared.handle,
    ]);
    const late = await record(t, out, handled);
    expect(late.errors?.[0]?.extensions?.code).toBe("UPLOAD_NOT_PREPARED");
    expect(late.errors?.[0]?.message).toContain("expired");
  });

  test("a download token is bound to its result and expires", async ({ t }) => {
    const { out, other } = await runFor(t, "LOCAL");
    for (const run of [out, other]) {
      const answer = await put(new URL(`/results/${run.id}`, t.app.url).toString(), Buffer.from(`"${run.id}"`));
      await record(t, run, { handler: handlerOf(t, "LOCAL"), handle: answer.body.handle as string });
    }
    const mine = (await downloadUrl(t, out.id)).downloadUrl;
    const theirs = (await downloadUrl(t, other.id)).downloadUrl;
    const swapped = new URL(theirs);
    swapped.searchParams.set("token", new URL(mine).searchParams.get("token")!);
    const refused = await fetch(swapped);
    expect(refused.status).toBe(403);
    const secret = (await readFile(join(t.config.dataDir, SECRET_FILE), "utf8")).trim();
    const expired = new TokenSigner(secret).sign({
      kind: "download",
      resultId: new URL(mine).pathname.split("/").pop()!,
      projectId: "00000000-0000-0000-0000-000000000000",
      expiresAt: Math.floor(Date.now() / 1000) - 1,
    });
    const late = new URL(mine);
    late.searchParams.set("token", expired);
    expect((await fetch(late)).status).toBe(403);
    expect(Buffer.from(await (await fetch(mine)).arrayBuffer()).toString()).toBe(`"${out.id}"`);
  });

  test("an upload token is for an upload: a download token does not open one", async ({ t }) => {
    const { prepared, out } = await prepareLocal(t);
    expect((await put(prepared.url, Buffer.from('"v"'))).status).toBe(200);
    await record(t, out, { handler: handlerOf(t, "LOCAL"), handle: prepared.handle });
    const token = new URL((await downloadUrl(t, out.id, true)).downloadUrl).searchParams.get("token")!;
    const answer = await put(new URL(`/uploads/${token}`, t.app.url).toString(), Buffer.from("x"));
    expect(answer.status).toBe(403);
  });

  test("a JSON task run has nothing to upload to", async ({ t }) => {
    const run = await startRun(t, { name: "json-out", tasks: [{ name: "j", handler: { type: "JSON" } }] });
    const errors = await t.fail(PrepareResultUpload, { taskRunId: run.taskRuns.j!.id });
    expect(errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});
