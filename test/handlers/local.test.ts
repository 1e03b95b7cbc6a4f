import { constants } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { createHandler } from "../../src/results/handler-registry.js";
import { FileWorkers } from "../../src/results/handlers/file-worker.js";
import { localHandler, SMALL_FILE_BYTES } from "../../src/results/handlers/local.js";
import { testResultHandler } from "./contract.js";

// Small files go through worker threads by default (1); 0 sends every file through libuv's pool.
for (const fileWorkers of [1, 0]) testLocalContract(fileWorkers);

function testLocalContract(fileWorkers: number): void {
  testResultHandler(`LOCAL (file workers: ${fileWorkers})`, { storesData: true }, async () => {
    const root = await mkdtemp(join(tmpdir(), "handled-local-"));
    const allowed = join(root, "allowed");
    const dir = join(allowed, "team-a");
    await mkdir(join(allowed, "team-b"), { recursive: true });
    await writeFile(join(allowed, "team-b", "other.json"), "1");
    await writeFile(join(root, "outside.json"), "1");
    await mkdir(dir, { recursive: true });
    await symlink(join(root, "outside.json"), join(dir, "link.json"));
    return {
      handler: createHandler(localHandler, { type: "LOCAL", dir }, { allowedDirs: [allowed], fileWorkers }),
      readRaw: (handle) => readFile(handle),
      outOfBounds: [
        join(root, "outside.json"),
        `${dir}/../../outside.json`,
        // Inside the allowed directories, but not inside this handler's own.
        join(allowed, "team-b", "other.json"),
        join(dir, "link.json"),
        "relative.json",
        "/etc/passwd",
      ],
      missing: join(dir, "never-written.json"),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  });
}

it("writes and reads many files at once, small ones through the file workers, each value its own", async () => {
  const root = await mkdtemp(join(tmpdir(), "handled-local-"));
  try {
    const handler = createHandler(localHandler, { type: "LOCAL", dir: join(root, "new") }, { allowedDirs: [root] });
    // The first writes make the directory; one value above the file workers' size goes through libuv.
    const values = Array.from({ length: 200 }, (_, i) => Buffer.from(JSON.stringify({ i, text: "x".repeat(i * 7) })));
    values.push(Buffer.from(JSON.stringify("y".repeat(SMALL_FILE_BYTES + 10))));
    const handles = await Promise.all(values.map((value) => handler.write(value)));
    expect(new Set(handles).size).toBe(values.length);
    const read = await Promise.all(handles.map((handle, i) => handler.read(handle, values[i]!.length)));
    expect(read.every((bytes, i) => bytes.equals(values[i]!))).toBe(true);
    expect(await readdir(join(root, "new"))).toHaveLength(values.length);
    // Written at a handle that is taken: refused, and the file there is kept.
    await expect(handler.write(Buffer.from('"again"'), handles[0])).rejects.toMatchObject({
      code: "RESULT_WRITE_FAILED",
    });
    expect((await readFile(handles[0]!)).equals(values[0]!)).toBe(true);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it("keeps the file system's errors, and starts its workers again once they are stopped", async () => {
  const root = await mkdtemp(join(tmpdir(), "handled-local-"));
  const workers = new FileWorkers(1);
  try {
    const flags = constants.O_RDONLY | constants.O_NOFOLLOW;
    await workers.writeNew(join(root, "a.json"), Buffer.from("[1]"));
    await expect(workers.writeNew(join(root, "a.json"), Buffer.from("[2]"))).rejects.toMatchObject({ code: "EEXIST" });
    await expect(workers.writeNew(join(root, "no", "b.json"), Buffer.from("[2]"))).rejects.toMatchObject({
      code: "ENOENT",
    });
    await symlink(join(root, "a.json"), join(root, "link.json"));
    await expect(workers.read(join(root, "link.json"), flags, 100)).rejects.toMatchObject({ code: "ELOOP" });
    await expect(workers.read(root, flags, 100)).resolves.toEqual({ ok: false, why: "not-a-file" });
    await expect(workers.read(join(root, "a.json"), flags, 2)).resolves.toEqual({
      ok: false,
      why: "too-large",
      size: 3,
    });
    const read = await workers.read(join(root, "a.json"), flags, 3);
    expect(read.ok && read.bytes.toString()).toBe("[1]");

    // Stopped while a batch is out: the batch fails, and the next file starts a new worker.
    const pending = Array.from({ length: 500 }, (_, i) =>
      workers.writeNew(join(root, `c${i}.json`), Buffer.from("[3]")),
    );
    const outcomes = Promise.allSettled(pending);
    await new Promise((resolve) => setImmediate(resolve));
    await workers.stop();
    const settled = await outcomes;
    expect(settled.some((outcome) => outcome.status === "rejected")).toBe(true);
    await workers.writeNew(join(root, "d.json"), Buffer.from("[4]"));
    expect((await readFile(join(root, "d.json"))).toString()).toBe("[4]");
  } finally {
    await workers.stop();
    await rm(root, { recursive: true, force: true });
  }
});

it("creates its directory on first write and leaves no partial files", async () => {
  const root = await mkdtemp(join(tmpdir(), "handled-local-"));
  try {
    const handler = createHandler(localHandler, { type: "LOCAL", dir: join(root, "a", "b") }, { allowedDirs: [root] });
    const handle = await handler.write(Buffer.from('"x"'));
    expect(handle.startsWith(join(root, "a", "b"))).toBe(true);
    expect(handle.endsWith(".json")).toBe(true);
    await handler.write(Buffer.from('"y"'));
    const files = await readdir(join(root, "a", "b"));
    expect(files).toHaveLength(2);
    expect(files.every((file) => file.endsWith(".json"))).toBe(true);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it("refuses to write when its directory is outside the allowed ones", async () => {
  const root = await mkdtemp(join(tmpdir(), "handled-local-"));
  try {
    const handler = createHandler(
      localHandler,
      { type: "LOCAL", dir: join(root, "elsewhere") },
      { allowedDirs: [join(root, "allowed")] },
    );
    await expect(handler.write(Buffer.from('"x"'))).rejects.toMatchObject({ code: "HANDLE_OUT_OF_BOUNDS" });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
