import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { HandledResultInput } from "@handled/client";
import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import { CreateFlow, GetTaskRun, SetTaskRunStates, SetTaskRunStatesLean } from "../support/documents.js";
import { filesUnder } from "../support/files.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

/**
 * `outside`: a directory outside the service's reach, holding `outsideFile`, a secret; inside the
 * results directory, symlinks to both, and a sibling directory with a secret of its own.
 */
const test = apiTest
  .extend("outside", { scope: "file" }, async ({ t }, { onCleanup }) => {
    const outside = await mkdtemp(join(tmpdir(), "handled-outside-"));
    onCleanup(() => rm(outside, { recursive: true, force: true }));
    const outsideFile = join(outside, "secret.json");
    await writeFile(outsideFile, JSON.stringify({ password: "hunter2" }));
    await symlink(outsideFile, join(t.resultsDir, "link-to-secret.json"));
    await symlink(outside, join(t.resultsDir, "link-to-outside-dir"));
    await mkdir(join(t.resultsDir, "..", "sibling"));
    await writeFile(join(t.resultsDir, "..", "sibling", "data.json"), JSON.stringify({ password: "hunter2" }));
    return outside;
  })
  .extend("outsideFile", { scope: "file" }, async ({ outside }) => join(outside, "secret.json"));

describe("handles never reach outside the allowed directories", () => {
  const escapes = (t: TestApp, outsideFile: string) => ({
    "a ../ path up to the root": `${t.resultsDir}/../../../../../../..${outsideFile}`,
    "a ../ path into a sibling directory": `${t.resultsDir}/../sibling/data.json`,
    "an absolute path elsewhere": outsideFile,
    "a system file": "/etc/passwd",
    "a symlink to a file outside": join(t.resultsDir, "link-to-secret.json"),
    "a file in a symlinked directory outside": join(t.resultsDir, "link-to-outside-dir", "secret.json"),
    "a relative path": "secret.json",
    "the directory itself": t.resultsDir,
  });

  test("refuses pre-handled results whose handle escapes, and stores nothing", async ({ t, outsideFile }) => {
    const run = await startRun(t, { name: "client-handled", tasks: [{ name: "work" }] });
    for (const [what, handle] of Object.entries(escapes(t, outsideFile))) {
      const handled: HandledResultInput = { handler: { type: "LOCAL", dir: t.resultsDir }, handle };

      const errors = await t.fail(SetTaskRunStates, {
        input: [{ taskRunId: run.taskRuns.work!.id, version: 1, state: { type: "SUCCESS", result: { handled } } }],
      });

      expect({ what, code: errors[0]?.extensions?.code }).toEqual({ what, code: "HANDLE_OUT_OF_BOUNDS" });
      expect(errors[0]?.message).not.toContain("hunter2");
    }
    expect(await t.sql(`SELECT count(*)::int AS n FROM result`)).toEqual([{ n: 0 }]);
  });

  test("refuses a pre-handled result whose handler directory is outside", async ({ t, outside, outsideFile }) => {
    const run = await startRun(t, { name: "client-handled-dir", tasks: [{ name: "work" }] });

    const errors = await t.fail(SetTaskRunStates, {
      input: [
        {
          taskRunId: run.taskRuns.work!.id,
          version: 1,
          state: {
            type: "SUCCESS",
            result: { handled: { handler: { type: "LOCAL", dir: outside }, handle: outsideFile } },
          },
        },
      ],
    });

    expect(errors[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
  });

  test("accepts a pre-handled result inside the allowed directory and reads it back", async ({ t }) => {
    const run = await startRun(t, { name: "client-wrote", tasks: [{ name: "work" }] });
    const file = join(t.resultsDir, "written-by-client.json");
    await writeFile(file, JSON.stringify({ rows: 3 }));

    const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: run.taskRuns.work!.id,
          version: 1,
          state: {
            type: "SUCCESS",
            result: { handled: { handler: { type: "LOCAL", dir: t.resultsDir }, handle: file } },
          },
        },
      ],
    });

    expect(setTaskRunStates[0]!.state.result).toMatchObject({ handled: true, handle: file, value: { rows: 3 } });
  });

  test("refuses handlers whose directory is outside, at flow creation", async ({ t, outside }) => {
    for (const dir of [outside, `${t.resultsDir}/../..`, join(t.resultsDir, "link-to-outside-dir"), "/etc"]) {
      const errors = await t.fail(CreateFlow, {
        input: { name: "outside", tasks: [{ name: "x", handler: { type: "LOCAL", dir } }] },
      });
      expect({ dir, code: errors[0]?.extensions?.code }).toEqual({ dir, code: "HANDLE_OUT_OF_BOUNDS" });
    }
    const flowErrors = await t.fail(CreateFlow, {
      input: { name: "outside", handler: { type: "LOCAL", dir: outside }, tasks: [] },
    });
    expect(flowErrors[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
    expect(await t.sql(`SELECT count(*)::int AS n FROM flow WHERE name = 'outside'`)).toEqual([{ n: 0 }]);
  });

  test("refuses to write when a handler's directory was turned into a symlink out after the flow was created", async ({
    t,
    outside,
  }) => {
    const dir = join(t.resultsDir, "later-swapped");
    await mkdir(dir);
    const run = await startRun(t, { name: "swapped", tasks: [{ name: "work", handler: { type: "LOCAL", dir } }] });
    await rm(dir, { recursive: true });
    await symlink(outside, dir);
    const outsideBefore = await filesUnder(outside);

    const errors = await t.fail(SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.work!.id, version: 1, state: { type: "SUCCESS", result: { value: "x" } } }],
    });

    expect(errors[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
    expect(await filesUnder(outside)).toEqual(outsideBefore);
  });

  test("refuses to read and write through a directory turned into a symlink out after it was used", async ({
    t,
    outside,
  }) => {
    const dir = join(t.resultsDir, "used-then-swapped");
    const tasks = [
      { name: "first", handler: { type: "LOCAL" as const, dir } },
      { name: "later", handler: { type: "LOCAL" as const, dir } },
    ];
    const run = await startRun(t, { name: "used then swapped", tasks });
    const first = await succeed(t, run.taskRuns.first!, "mine");
    expect((await t.run(GetTaskRun, { id: run.taskRuns.first!.id })).data?.taskRun?.state.result).toMatchObject({
      value: "mine",
    });
    // The directory is swapped for a symlink to one that holds a secret under the same file name.
    await rm(dir, { recursive: true });
    await symlink(outside, dir);
    await writeFile(join(outside, basename(first.handle)), JSON.stringify("hunter2"));
    const outsideBefore = await filesUnder(outside);

    const read = await t.run(GetTaskRun, { id: run.taskRuns.first!.id });
    const errors = await t.fail(SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.later!.id, version: 1, state: { type: "SUCCESS", result: { value: "x" } } }],
    });

    expect(read.errors?.[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
    expect(JSON.stringify(read)).not.toContain("hunter2");
    expect(errors[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
    expect(await filesUnder(outside)).toEqual(outsideBefore);
  });

  test("refuses to read a server-written handle that was changed to point outside", async ({ t, outsideFile }) => {
    for (const [what, handle] of Object.entries(escapes(t, outsideFile))) {
      const run = await startRun(t, { name: `tampered ${what}`, tasks: [{ name: "work" }] });
      const result = await succeed(t, run.taskRuns.work!, "mine");
      await t.sql(`UPDATE result SET handle = $1 WHERE id = $2`, [handle, result.id]);

      const read = await t.run(GetTaskRun, { id: run.taskRuns.work!.id });

      expect({ what, codes: read.errors?.map((e) => e.extensions?.code) }).toEqual({
        what,
        codes: ["HANDLE_OUT_OF_BOUNDS", "HANDLE_OUT_OF_BOUNDS"],
      });
      expect(JSON.stringify(read)).not.toContain("hunter2");
      expect(read.data?.taskRun?.state.result).toMatchObject({ handle, value: null });
    }
  });

  test("refuses to read a stored handle whose file was replaced by a symlink out", async ({ t, outsideFile }) => {
    const run = await startRun(t, { name: "replaced", tasks: [{ name: "work" }] });
    const result = await succeed(t, run.taskRuns.work!, "mine");
    await rm(result.handle);
    await symlink(outsideFile, result.handle);

    const read = await t.run(GetTaskRun, { id: run.taskRuns.work!.id });

    expect(read.errors?.[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
    expect(JSON.stringify(read)).not.toContain("hunter2");
  });

  test("refuses pre-handled handles that name a FIFO or a directory, without waiting on the FIFO", async ({ t }) => {
    const fifo = join(t.resultsDir, "a-fifo.json");
    execFileSync("mkfifo", [fifo]);
    const directory = join(t.resultsDir, "a-directory.json");
    await mkdir(directory);
    const run = await startRun(t, { name: "special-files", tasks: [{ name: "work" }] });

    for (const handle of [fifo, directory]) {
      const errors = await t.fail(SetTaskRunStates, {
        input: [
          {
            taskRunId: run.taskRuns.work!.id,
            version: 1,
            state: { type: "SUCCESS", result: { handled: { handler: { type: "LOCAL", dir: t.resultsDir }, handle } } },
          },
        ],
      });
      expect({ handle, code: errors[0]?.extensions?.code, message: errors[0]?.message }).toEqual({
        handle,
        code: "HANDLE_OUT_OF_BOUNDS",
        message: `The handle "${handle}" names something other than a regular file.`,
      });
    }
  });

  test("refuses to read a stored handle whose file was replaced by a FIFO, and keeps serving other reads", async ({
    t,
  }) => {
    const run = await startRun(t, { name: "fifo-swap", tasks: [{ name: "swapped" }, { name: "plain" }] });
    const swapped = await succeed(t, run.taskRuns.swapped!, "mine");
    await succeed(t, run.taskRuns.plain!, "still readable");
    await rm(swapped.handle);
    execFileSync("mkfifo", [swapped.handle]);

    // More readers than libuv has threads: a blocking open of the FIFO would stall them all.
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => t.run(GetTaskRun, { id: run.taskRuns.swapped!.id })),
    );
    const plain = await t.ok(GetTaskRun, { id: run.taskRuns.plain!.id });

    for (const read of reads)
      expect(read.errors?.map((e) => e.extensions?.code)).toEqual(["HANDLE_OUT_OF_BOUNDS", "HANDLE_OUT_OF_BOUNDS"]);
    expect(plain.taskRun?.state.result).toMatchObject({ value: "still readable" });
  });

  test("does not serve a pre-handled value nested 20,000 deep, whose serialising would fail the whole response", async ({
    t,
  }) => {
    const run = await startRun(t, { name: "deep-file", tasks: [{ name: "deep" }, { name: "plain" }] });
    const file = join(t.resultsDir, "deep.json");
    await writeFile(file, `${"[".repeat(20_000)}${"]".repeat(20_000)}`);
    await t.ok(SetTaskRunStatesLean, {
      input: [
        {
          taskRunId: run.taskRuns.deep!.id,
          version: 1,
          state: {
            type: "SUCCESS",
            result: { handled: { handler: { type: "LOCAL", dir: t.resultsDir }, handle: file } },
          },
        },
      ],
    });

    const read = await t.run(GetTaskRun, { id: run.taskRuns.deep!.id });

    expect(read.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
      ["RESULT_CORRUPT", "The stored value nests deeper than 100 levels, so it is not served."],
      ["RESULT_CORRUPT", "The stored value nests deeper than 100 levels, so it is not served."],
    ]);
    expect(read.data?.taskRun?.state.result).toMatchObject({ handle: file, value: null });
  });

  test("refuses to read a stored result whose handler directory was changed to one outside", async ({
    t,
    outside,
    outsideFile,
  }) => {
    const run = await startRun(t, { name: "tampered-dir", tasks: [{ name: "work" }] });
    const result = await succeed(t, run.taskRuns.work!, "mine");
    await t.sql(`UPDATE result SET handler_config = $1, handle = $2 WHERE id = $3`, [
      { dir: outside },
      outsideFile,
      result.id,
    ]);

    const read = await t.run(GetTaskRun, { id: run.taskRuns.work!.id });

    expect(read.errors?.[0]?.extensions?.code).toBe("HANDLE_OUT_OF_BOUNDS");
    expect(JSON.stringify(read)).not.toContain("hunter2");
  });
});
