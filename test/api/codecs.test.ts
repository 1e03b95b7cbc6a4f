import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import type { ResultHandlerInput } from "@handled/client";
import { describe, expect } from "vitest";
import { startApp } from "../../src/app.js";
import type { Keyring } from "../../src/results/codecs.js";
import { post, type TestApp } from "../support/app.js";
import {
  CreateFlow,
  GetTaskRun,
  GetTaskRunHandles,
  SetTaskRunStatesLean,
  TaskRunHistory,
} from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

// A handler may name codecs: compression (gzip, zstd) and encryption (AES-256-GCM with the
// server's keys), applied on write and undone on read, with what was applied recorded on each
// result. And it may keep small values inline, by the JSON handler.

const KEY_1 = Buffer.alloc(32, 1).toString("base64");
const KEY_2 = Buffer.alloc(32, 2).toString("base64");

const test = apiTest.override("env", { scope: "file" }, async ({ s3, gcs }) => {
  await s3.createBucket("sealed");
  return {
    ...s3.env(["sealed"]),
    ...gcs.env(["sealed-gcs"]),
    HANDLED_ENCRYPTION_KEYS: `k1:${KEY_1}`,
  };
});

/** A value with a marker: once encrypted, it must never be seen in storage or the database. */
const valueMarked = (marker: string) => ({
  note: marker,
  rows: Array.from({ length: 200 }, (_, i) => ({ i, text: `${marker} row ${i}` })),
});
const SECRET = valueMarked("written-in-the-clear-by-some-tests");
// Written by one test only, always encrypted.
const MARKER = "the-quick-brown-marker-7c1f";
const SEALED = valueMarked(MARKER);

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Every row of every table of the service's database, as text. */
async function databaseText(t: TestApp): Promise<string> {
  const tables = await t.sql<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  let text = "";
  for (const { name } of tables) {
    const rows = await t.sql<{ row: string }>(`SELECT t::text AS row FROM "${name}" t`);
    text += rows.map((r) => r.row).join("\n");
  }
  return text;
}

async function filesUnder(dir: string): Promise<Buffer[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return Promise.all(entries.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name))));
}

describe("codecs", () => {
  test("round-trip every combination on LOCAL, with what was applied recorded on the result", async ({ t }) => {
    const combinations = [[], ["GZIP"], ["ZSTD"], ["AES_256_GCM"], ["GZIP", "AES_256_GCM"], ["ZSTD", "AES_256_GCM"]];
    for (const codecs of combinations) {
      const handler = { type: "LOCAL", dir: t.resultsDir, codecs } as ResultHandlerInput;
      const run = await startRun(t, { name: `codecs-${codecs.join("-")}`, handler, tasks: [{ name: "big" }] });
      const written = await succeed(t, run.taskRuns.big!, SECRET);
      const json = Buffer.from(JSON.stringify(SECRET));
      const stored = await readFile(written.handle);

      expect({ codecs, result: written }).toMatchObject({
        codecs,
        result: {
          codecs,
          keyId: codecs.includes("AES_256_GCM") ? "k1" : null,
          sizeBytes: json.length,
          storedBytes: stored.length,
          sha256: sha256(stored),
          handler: { type: "LOCAL", codecs: [] },
        },
      });
      if (codecs.length > 0) expect(stored.equals(json)).toBe(false);
      if (codecs.some((c) => c !== "AES_256_GCM")) expect(stored.length).toBeLessThan(json.length / 5);
      const read = await t.run(GetTaskRun, { id: run.taskRuns.big!.id });
      expect(read.errors).toBeUndefined();
      expect(read.data?.taskRun?.state.result).toMatchObject({ value: SECRET });
      const history = await t.ok(TaskRunHistory, { id: run.taskRuns.big!.id, previewBytes: 20 });
      expect(history.taskRun?.states.nodes.at(-1)?.result).toMatchObject({
        preview: { text: JSON.stringify(SECRET).slice(0, 20), truncated: true },
      });
    }
  });

  test("skip a compression that does not make the value smaller, and record only what was applied", async ({ t }) => {
    const handler = { type: "LOCAL", dir: t.resultsDir, codecs: ["ZSTD", "AES_256_GCM"] } as ResultHandlerInput;
    const run = await startRun(t, { name: "tiny", handler, tasks: [{ name: "one" }] });
    const written = await succeed(t, run.taskRuns.one!, 1);
    expect(written).toMatchObject({ codecs: ["AES_256_GCM"], keyId: "k1", sizeBytes: 1, storedBytes: 1 + 29 });
    expect((await t.run(GetTaskRun, { id: run.taskRuns.one!.id })).data?.taskRun?.state.result).toMatchObject({
      value: 1,
    });
  });

  test("leave the text of an encrypted value in no database column, file or object, on every store", async ({
    t,
    s3,
    gcs,
  }) => {
    const dir = join(t.resultsDir, "sealed");
    const handlers = [
      { type: "LOCAL", dir, codecs: ["AES_256_GCM"] },
      { type: "S3", bucket: "sealed", prefix: "enc", codecs: ["GZIP", "AES_256_GCM"] },
      { type: "GCS", bucket: "sealed-gcs", codecs: ["ZSTD", "AES_256_GCM"] },
      // Kept inline: the handle in the database is the ciphertext.
      { type: "LOCAL", dir, codecs: ["AES_256_GCM"], inlineBelowBytes: 1_000_000 },
    ] as ResultHandlerInput[];
    const runs = [];
    for (const [i, handler] of handlers.entries()) {
      const run = await startRun(t, { name: `sealed-${i}`, handler, tasks: [{ name: "secret" }] });
      const written = await succeed(t, run.taskRuns.secret!, SEALED);
      expect(written).toMatchObject({ keyId: "k1", handler: { type: i === 3 ? "JSON" : handler.type } });
      runs.push(run);
    }

    expect(await databaseText(t)).toContain("sealed-0"); // the scan sees the database
    expect(await databaseText(t)).not.toContain(MARKER);
    const files = await filesUnder(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(file.includes(MARKER)).toBe(false);
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: "sealed" }));
    expect(listed.Contents?.length).toBeGreaterThan(0);
    for (const { Key } of listed.Contents ?? []) {
      const object = await s3.client.send(new GetObjectCommand({ Bucket: "sealed", Key }));
      expect(Buffer.from(await object.Body!.transformToByteArray()).includes(MARKER)).toBe(false);
    }
    const [objects] = await gcs.storage.bucket("sealed-gcs").getFiles();
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) expect((await object.download())[0].includes(MARKER)).toBe(false);

    for (const run of runs) {
      const read = await t.run(GetTaskRun, { id: run.taskRuns.secret!.id });
      expect(read.errors).toBeUndefined();
      expect(read.data?.taskRun?.state.result).toMatchObject({ value: SEALED });
    }
  });

  test("catch ciphertext altered in storage or in the database as RESULT_INTEGRITY", async ({ t, s3 }) => {
    const local = { type: "LOCAL", dir: t.resultsDir, codecs: ["AES_256_GCM"] } as ResultHandlerInput;
    const inline = { ...local, inlineBelowBytes: 10_000 };
    const bucket = { type: "S3", bucket: "sealed", prefix: "tamper", codecs: ["GZIP"] } as ResultHandlerInput;
    const ids: string[] = [];
    for (const [name, handler] of Object.entries({ local, inline, bucket })) {
      const run = await startRun(t, { name: `tamper-${name}`, handler, tasks: [{ name: "v" }] });
      const written = await succeed(t, run.taskRuns.v!, { who: name, n: "x".repeat(500) });
      ids.push(run.taskRuns.v!.id);
      const flip = (bytes: Buffer) => {
        const copy = Buffer.from(bytes);
        copy[copy.length - 20] = copy[copy.length - 20]! ^ 0x01;
        return copy;
      };
      if (name === "local") await writeFile(written.handle, flip(await readFile(written.handle)));
      if (name === "bucket") {
        const Key = written.handle.replace("s3://sealed/", "");
        const object = await s3.client.send(new GetObjectCommand({ Bucket: "sealed", Key }));
        const body = flip(Buffer.from(await object.Body!.transformToByteArray()));
        await s3.client.send(new PutObjectCommand({ Bucket: "sealed", Key, Body: body }));
      }
      if (name === "inline") {
        // The handle is a JSON string of the ciphertext's base64: one letter changed keeps its size.
        const [row] = await t.sql<{ handle: string }>(`SELECT handle FROM result WHERE id = $1`, [written.id]);
        const base64 = JSON.parse(row!.handle) as string;
        const at = 10;
        const changed = base64.slice(0, at) + (base64[at] === "A" ? "B" : "A") + base64.slice(at + 1);
        await t.sql(`UPDATE result SET handle = $2 WHERE id = $1`, [written.id, JSON.stringify(changed)]);
      }
    }
    for (const id of ids) {
      const read = await t.run(GetTaskRun, { id });
      expect(read.errors?.map((e) => e.extensions?.code)).toContain("RESULT_INTEGRITY");
      expect(JSON.stringify(read.data)).not.toContain('"who"');
    }
  });

  test("survive a key rotation; a result whose key is gone fails with RESULT_KEY_UNAVAILABLE", async ({ t }) => {
    const handler = { type: "LOCAL", dir: t.resultsDir, codecs: ["AES_256_GCM"] } as ResultHandlerInput;
    const run = await startRun(t, { name: "rotation", handler, tasks: [{ name: "old" }, { name: "new" }] });
    await succeed(t, run.taskRuns.old!, { written: "with k1" });

    const keyring = (writeKeyId: string, ...ids: string[]): Keyring => ({
      writeKeyId,
      keys: new Map(ids.map((id) => [id, Buffer.from(id === "k1" ? KEY_1 : KEY_2, "base64")])),
    });
    const rotated = await startApp({ ...t.config, encryption: keyring("k2", "k1", "k2") });
    try {
      const set = await post(rotated.url, SetTaskRunStatesLean, {
        input: [
          {
            taskRunId: run.taskRuns.new!.id,
            version: 1,
            state: { type: "SUCCESS", result: { value: { written: "with k2" } } },
          },
        ],
      });
      expect(set.errors).toBeUndefined();
      for (const [task, keyId, value] of [
        ["old", "k1", { written: "with k1" }],
        ["new", "k2", { written: "with k2" }],
      ] as const) {
        const read = await post(rotated.url, GetTaskRun, { id: run.taskRuns[task]!.id });
        expect(read.errors).toBeUndefined();
        expect(read.data?.taskRun?.state.result).toMatchObject({ keyId, value });
      }
    } finally {
      await rotated.stop();
    }

    const dropped = await startApp({ ...t.config, encryption: keyring("k2", "k2") });
    try {
      const old = await post(dropped.url, GetTaskRun, { id: run.taskRuns.old!.id });
      const current = await post(dropped.url, GetTaskRun, { id: run.taskRuns.new!.id });
      expect(old.errors?.map((e) => e.extensions?.code)).toContain("RESULT_KEY_UNAVAILABLE");
      expect(old.data?.taskRun?.state.result).toMatchObject({ keyId: "k1", value: null });
      expect(current.errors).toBeUndefined();
      expect(current.data?.taskRun?.state.result).toMatchObject({ keyId: "k2", value: { written: "with k2" } });
      // Metadata needs no key.
      const handles = await post(dropped.url, GetTaskRunHandles, { id: run.taskRuns.old!.id });
      expect(handles.errors).toBeUndefined();
    } finally {
      await dropped.stop();
    }
  });

  test("that cannot work are refused when a flow names them, and nothing is created", async ({ t }) => {
    const flows = async () => (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM flow`))[0]!.n;
    const before = await flows();
    const attempts: [ResultHandlerInput, string][] = [
      [{ type: "LOCAL", dir: t.resultsDir, codecs: ["GZIP", "GZIP"] } as ResultHandlerInput, "BAD_USER_INPUT"],
      [{ type: "LOCAL", dir: t.resultsDir, codecs: ["GZIP", "ZSTD"] } as ResultHandlerInput, "BAD_USER_INPUT"],
      [{ type: "LOCAL", dir: t.resultsDir, codecs: ["AES_256_GCM", "GZIP"] } as ResultHandlerInput, "BAD_USER_INPUT"],
      [{ type: "JSON", inlineBelowBytes: 100 } as ResultHandlerInput, "BAD_USER_INPUT"],
      [{ type: "LOCAL", dir: t.resultsDir, inlineBelowBytes: 0 } as ResultHandlerInput, "BAD_USER_INPUT"],
    ];
    for (const [handler, code] of attempts) {
      const answer = await t.run(CreateFlow, { input: { name: "refused", handler, tasks: [{ name: "a" }] } });
      expect({ handler, codes: answer.errors?.map((e) => e.extensions?.code) }).toEqual({ handler, codes: [code] });
    }
    // A server without keys cannot take a flow that encrypts.
    const keyless = await startApp({ ...t.config, encryption: { writeKeyId: undefined, keys: new Map() } });
    try {
      const answer = await post(keyless.url, CreateFlow, {
        input: {
          name: "refused",
          handler: { type: "LOCAL", dir: t.resultsDir, codecs: ["AES_256_GCM"] } as ResultHandlerInput,
          tasks: [{ name: "a" }],
        },
      });
      expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(["RESULT_KEY_UNAVAILABLE"]);
      expect(answer.errors?.[0]?.message).toContain("HANDLED_ENCRYPTION_KEYS");
    } finally {
      await keyless.stop();
    }
    expect(await flows()).toBe(before);
  });

  test("apply to values the server writes, not to results a client handled", async ({ t }) => {
    const run = await startRun(t, { name: "client-written", tasks: [{ name: "a" }] });
    const path = join(t.resultsDir, "by-client.json");
    await writeFile(path, "[1]");
    const answer = await t.run(SetTaskRunStatesLean, {
      input: [
        {
          taskRunId: run.taskRuns.a!.id,
          version: 1,
          state: {
            type: "SUCCESS",
            result: {
              handled: {
                handler: { type: "LOCAL", dir: t.resultsDir, codecs: ["GZIP"] } as ResultHandlerInput,
                handle: path,
              },
            },
          },
        },
      ],
    });
    expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("size routing", () => {
  test("keeps values under inlineBelowBytes with the JSON handler, and larger ones in the store", async ({ t }) => {
    const handler = { type: "LOCAL", dir: t.resultsDir, inlineBelowBytes: 64 } as ResultHandlerInput;
    const run = await startRun(t, { name: "routed", handler, tasks: [{ name: "small" }, { name: "large" }] });
    const small = await succeed(t, run.taskRuns.small!, { ok: true });
    const large = await succeed(t, run.taskRuns.large!, { text: "y".repeat(64) });

    expect(small).toMatchObject({ handler: { type: "JSON" }, handle: '{"ok":true}', codecs: [] });
    expect(large).toMatchObject({ handler: { type: "LOCAL", dir: t.resultsDir }, codecs: [] });
    expect(await readFile(large.handle, "utf8")).toBe(JSON.stringify({ text: "y".repeat(64) }));
    const flow = await t.sql<{ config: unknown }>(`SELECT handler_config AS config FROM flow WHERE id = $1`, [
      run.flowId,
    ]);
    expect(flow[0]?.config).toEqual({ dir: t.resultsDir, inlineBelowBytes: 64 });
    for (const [task, value] of [
      ["small", { ok: true }],
      ["large", { text: "y".repeat(64) }],
    ] as const) {
      const read = await t.run(GetTaskRun, { id: run.taskRuns[task]!.id });
      expect(read.data?.taskRun?.state.result).toMatchObject({ value });
    }
  });

  test("keeps a value in the store when its inline form would not fit a JSON handle", async ({ t }) => {
    // 60 KB of JSON fits the JSON handler's 64 KiB; as base64 of its ciphertext, it would not.
    const handler = {
      type: "LOCAL",
      dir: t.resultsDir,
      codecs: ["AES_256_GCM"],
      inlineBelowBytes: 1_000_000,
    } as ResultHandlerInput;
    const run = await startRun(t, { name: "too-big-inline", handler, tasks: [{ name: "fits" }, { name: "grows" }] });
    const fits = await succeed(t, run.taskRuns.fits!, "f".repeat(40_000));
    const grows = await succeed(t, run.taskRuns.grows!, "g".repeat(60_000));

    expect(fits).toMatchObject({ handler: { type: "JSON" }, codecs: ["AES_256_GCM"] });
    expect(grows).toMatchObject({ handler: { type: "LOCAL" }, codecs: ["AES_256_GCM"] });
    const read = await t.run(GetTaskRun, { id: run.taskRuns.grows!.id });
    expect(read.data?.taskRun?.state.result).toMatchObject({ value: "g".repeat(60_000) });
  });
});
