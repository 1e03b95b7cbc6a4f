import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { createHandler } from "../../src/results/handler-registry.js";
import { localHandler } from "../../src/results/handlers/local.js";
import { testResultHandler } from "./contract.js";

testResultHandler("LOCAL", { storesData: true }, async () => {
  const root = await mkdtemp(join(tmpdir(), "handled-local-"));
  const allowed = join(root, "allowed");
  const dir = join(allowed, "team-a");
  await mkdir(join(allowed, "team-b"), { recursive: true });
  await writeFile(join(allowed, "team-b", "other.json"), "1");
  await writeFile(join(root, "outside.json"), "1");
  await mkdir(dir, { recursive: true });
  await symlink(join(root, "outside.json"), join(dir, "link.json"));
  return {
    handler: createHandler(localHandler, { type: "LOCAL", dir }, { allowedDirs: [allowed] }),
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
