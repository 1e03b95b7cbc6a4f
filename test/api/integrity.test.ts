import { createHash } from "node:crypto";
import { readFile, symlink, unlink, writeFile } from "node:fs/promises";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import { GetTaskRun, GetTaskRunHandles, SetTaskRunStatesLean } from "../support/documents.js";
import type { GcsEmulator, S3Emulator } from "../support/emulators.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

// Someone with write access to the storage alters what results hold. Every value read is checked
// against the SHA-256 recorded when it was written: a file or object replaced, truncated,
// bit-flipped or swapped with another result's is refused with RESULT_INTEGRITY, never served as
// a different value; what nobody touched reads back as it was written.

const test = apiTest.override("env", { scope: "file" }, async ({ s3, gcs }) => {
  await s3.createBucket("integrity");
  return { ...s3.env(["integrity"]), ...gcs.env(["integrity-gcs"]) };
});

/** How one store's bytes are read and overwritten behind the server's back. */
interface Store {
  read(handle: string): Promise<Buffer>;
  write(handle: string, bytes: Buffer | string): Promise<void>;
}

const VALUES = {
  replaced: { account: "alice", balance: 100 },
  truncated: 1234567890,
  flipped: { flag: "abc" },
  swappedA: { n: 1 },
  swappedB: { n: 2 },
  untouched: { rows: [1, 2, 3], note: "kept" },
};

describe("results altered in storage", () => {
  const cases = ({ t, s3, gcs }: { t: TestApp; s3: S3Emulator; gcs: GcsEmulator }) => {
    const local: Store = { read: (h) => readFile(h), write: (h, b) => writeFile(h, b) };
    const key = (h: string, scheme: string) => h.replace(new RegExp(`^${scheme}://[^/]+/`), "");
    const s3Store: Store = {
      read: async (h) =>
        Buffer.from(
          await (
            await s3.client.send(new GetObjectCommand({ Bucket: "integrity", Key: key(h, "s3") }))
          ).Body!.transformToByteArray(),
        ),
      write: async (h, b) => {
        await s3.client.send(new PutObjectCommand({ Bucket: "integrity", Key: key(h, "s3"), Body: b }));
      },
    };
    const gcsStore: Store = {
      read: async (h) => (await gcs.storage.bucket("integrity-gcs").file(key(h, "gs")).download())[0],
      write: (h, b) => gcs.storage.bucket("integrity-gcs").file(key(h, "gs")).save(b),
    };
    return [
      { name: "LOCAL", handler: { type: "LOCAL" as const, dir: t.resultsDir }, store: local },
      { name: "S3", handler: { type: "S3" as const, bucket: "integrity", prefix: "tamper" }, store: s3Store },
      { name: "GCS", handler: { type: "GCS" as const, bucket: "integrity-gcs", prefix: "tamper" }, store: gcsStore },
    ];
  };

  test("are refused with RESULT_INTEGRITY on LOCAL, S3 and GCS, and the rest read back unchanged", async ({
    t,
    s3,
    gcs,
  }) => {
    for (const { name, handler, store } of cases({ t, s3, gcs })) {
      const run = await startRun(t, {
        name: `tamper-${name}`,
        handler,
        tasks: Object.keys(VALUES).map((n) => ({ name: n })),
      });
      const handles: Record<string, string> = {};
      const hashes: Record<string, string | null | undefined> = {};
      for (const [task, value] of Object.entries(VALUES)) {
        const result = await succeed(t, run.taskRuns[task]!, value);
        handles[task] = result.handle;
        hashes[task] = result.sha256;
      }
      const originals = Object.fromEntries(
        await Promise.all(Object.entries(handles).map(async ([task, h]) => [task, await store.read(h)] as const)),
      );
      // The recorded hash is the stored bytes' own.
      expect(hashes.untouched).toBe(createHash("sha256").update(originals.untouched!).digest("hex"));

      await store.write(handles.replaced!, JSON.stringify({ account: "mallory", balance: 999 }));
      await store.write(handles.truncated!, "12345");
      const flipped = Buffer.from(originals.flipped!);
      const at = flipped.indexOf("c");
      flipped[at] = flipped[at]! ^ 0x01; // "abc" -> "abb": still valid JSON
      await store.write(handles.flipped!, flipped);
      await store.write(handles.swappedA!, originals.swappedB!);
      await store.write(handles.swappedB!, originals.swappedA!);

      const read = async (task: string) => {
        const answer = await t.run(GetTaskRun, { id: run.taskRuns[task]!.id });
        const result = answer.data?.taskRun?.state.result;
        return {
          codes: [...new Set(answer.errors?.map((e) => e.extensions?.code))],
          value: result?.__typename === "Result" ? result.value : undefined,
        };
      };
      const outcomes = Object.fromEntries(
        await Promise.all(Object.keys(VALUES).map(async (task) => [task, await read(task)])),
      );
      expect({ name, outcomes }).toEqual({
        name,
        outcomes: {
          replaced: { codes: ["RESULT_INTEGRITY"], value: null },
          truncated: { codes: ["RESULT_INTEGRITY"], value: null },
          flipped: { codes: ["RESULT_INTEGRITY"], value: null },
          swappedA: { codes: ["RESULT_INTEGRITY"], value: null },
          swappedB: { codes: ["RESULT_INTEGRITY"], value: null },
          untouched: { codes: [], value: VALUES.untouched },
        },
      });
      expect(await store.read(handles.untouched!)).toEqual(originals.untouched);
    }
  });

  test("through a symlink to another result, on LOCAL", async ({ t }) => {
    const run = await startRun(t, { name: "linked", tasks: [{ name: "a" }, { name: "b" }] });
    const a = await succeed(t, run.taskRuns.a!, { secret: "a" });
    const b = await succeed(t, run.taskRuns.b!, { secret: "b" });
    await unlink(a.handle);
    await symlink(b.handle, a.handle);
    const answer = await t.run(GetTaskRun, { id: run.taskRuns.a!.id });
    expect(answer.errors?.map((e) => e.extensions?.code)).toContain("RESULT_INTEGRITY");
    expect(JSON.stringify(answer.data)).not.toContain('"secret":"b"');
  });

  test("are checked against what a client says of a result it wrote itself", async ({ t }) => {
    const run = await startRun(t, { name: "pre-handled", tasks: [{ name: "ok" }, { name: "bad" }, { name: "size" }] });
    const bytes = JSON.stringify({ mine: true });
    const path = `${t.resultsDir}/client-written.json`;
    await writeFile(path, bytes);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const handled = (task: string, extra: Record<string, unknown>) => ({
      input: [
        {
          taskRunId: run.taskRuns[task]!.id,
          version: 1,
          state: {
            type: "SUCCESS" as const,
            result: { handled: { handler: { type: "LOCAL" as const, dir: t.resultsDir }, handle: path, ...extra } },
          },
        },
      ],
    });
    // A size that is not the file's is refused when the handle is recorded; nothing changes.
    const wrongSize = await t.run(SetTaskRunStatesLean, handled("size", { sizeBytes: bytes.length + 1 }));
    expect(wrongSize.errors?.map((e) => e.extensions?.code)).toEqual(["RESULT_INTEGRITY"]);
    expect((await t.ok(GetTaskRunHandles, { id: run.taskRuns.size!.id })).taskRun?.state.type).toBe("PENDING");
    // A malformed hash is bad input.
    const malformed = await t.run(SetTaskRunStatesLean, handled("bad", { sha256: "xyz" }));
    expect(malformed.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);

    await t.ok(SetTaskRunStatesLean, handled("ok", { sha256: sha256.toUpperCase(), sizeBytes: bytes.length }));
    await t.ok(SetTaskRunStatesLean, handled("bad", { sha256: "0".repeat(64) }));
    const ok = await t.run(GetTaskRun, { id: run.taskRuns.ok!.id });
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.taskRun?.state.result).toMatchObject({ sha256, value: { mine: true } });
    const bad = await t.run(GetTaskRun, { id: run.taskRuns.bad!.id });
    expect(bad.errors?.map((e) => e.extensions?.code)).toContain("RESULT_INTEGRITY");
  });

  test("are checked when recorded against the SHA-256 an object store keeps with a client's object", async ({
    t,
    s3,
    gcs,
  }) => {
    const bytes = JSON.stringify({ uploaded: "by the client" });
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const stores = [
      {
        handler: { type: "S3" as const, bucket: "integrity", prefix: "client" },
        handle: "s3://integrity/client/object.json",
        put: (body: string) =>
          s3.client.send(
            new PutObjectCommand({ Bucket: "integrity", Key: "client/object.json", Body: body, Metadata: { sha256 } }),
          ),
      },
      {
        handler: { type: "GCS" as const, bucket: "integrity-gcs", prefix: "client" },
        handle: "gs://integrity-gcs/client/object.json",
        put: (body: string) =>
          gcs.storage
            .bucket("integrity-gcs")
            .file("client/object.json")
            .save(body, { metadata: { metadata: { sha256 } } }),
      },
    ];
    for (const { handler, handle, put } of stores) {
      await put(bytes);
      const run = await startRun(t, { name: `kept-${handler.type}`, tasks: [{ name: "claimed" }, { name: "plain" }] });
      const record = (task: string, extra: Record<string, unknown> = {}) =>
        t.run(SetTaskRunStatesLean, {
          input: [
            {
              taskRunId: run.taskRuns[task]!.id,
              version: 1,
              state: { type: "SUCCESS" as const, result: { handled: { handler, handle, ...extra } } },
            },
          ],
        });
      // A hash that is not the one the store keeps: refused, nothing recorded.
      const wrong = await record("claimed", { sha256: "f".repeat(64) });
      expect({ store: handler.type, codes: wrong.errors?.map((e) => e.extensions?.code) }).toEqual({
        store: handler.type,
        codes: ["RESULT_INTEGRITY"],
      });
      expect((await t.ok(GetTaskRunHandles, { id: run.taskRuns.claimed!.id })).taskRun?.state.type).toBe("PENDING");
      // None given: the store's is recorded, and every read checks it.
      expect((await record("plain")).errors).toBeUndefined();
      const read = await t.run(GetTaskRun, { id: run.taskRuns.plain!.id });
      expect(read.data?.taskRun?.state.result).toMatchObject({ sha256, value: { uploaded: "by the client" } });
      await put(JSON.stringify({ uploaded: "by someone else" }));
      const altered = await t.run(GetTaskRun, { id: run.taskRuns.plain!.id });
      expect(altered.errors?.map((e) => e.extensions?.code)).toContain("RESULT_INTEGRITY");
    }
  });

  test("recorded before hashes were kept are still checked by size, and read when it matches", async ({ t }) => {
    const run = await startRun(t, { name: "legacy", tasks: [{ name: "same" }, { name: "shorter" }] });
    const same = await succeed(t, run.taskRuns.same!, 1234567890);
    const shorter = await succeed(t, run.taskRuns.shorter!, 1234567890);
    await t.sql(`UPDATE result SET sha256 = NULL WHERE id = ANY($1::uuid[])`, [[same.id, shorter.id]]);
    await writeFile(shorter.handle, "12345");
    expect((await t.run(GetTaskRun, { id: run.taskRuns.same!.id })).data?.taskRun?.state.result).toMatchObject({
      sha256: null,
      value: 1234567890,
    });
    const cut = await t.run(GetTaskRun, { id: run.taskRuns.shorter!.id });
    expect(cut.errors?.map((e) => e.extensions?.code)).toContain("RESULT_INTEGRITY");
  });
});
