import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect } from "vitest";
import { GetTaskRun, GetTaskRunHandles } from "../support/documents.js";
import { test } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { everyStoredText } from "../support/inspect.js";

describe("what the database holds", () => {
  test("keeps only the path of a value written through the local handler, never the value", async ({ t }) => {
    const run = await startRun(t, { name: "private", tasks: [{ name: "secret" }] });
    const secret = { ssn: "SECRET-4f1c9e-do-not-store", rows: [1, 2, 3] };

    const result = await succeed(t, run.taskRuns.secret!, secret);

    expect(result.handler).toEqual({
      type: "LOCAL",
      dir: t.resultsDir,
      bucket: null,
      prefix: null,
      codecs: [],
      inlineBelowBytes: null,
    });
    expect(result.handle.startsWith(`${t.resultsDir}/`)).toBe(true);
    expect(JSON.parse(await readFile(result.handle, "utf8"))).toEqual(secret);
    expect(result.value).toEqual(secret);
    const stored = await everyStoredText(t);
    expect(stored).toContain(result.handle);
    expect(stored).not.toContain("SECRET-4f1c9e");
  });

  test("stores the JSON text itself as the handle of the JSON handler", async ({ t }) => {
    const run = await startRun(t, { name: "inline", handler: { type: "JSON" }, tasks: [{ name: "small" }] });

    const result = await succeed(t, run.taskRuns.small!, { answer: 42, tags: ["a"] });

    expect(result.handler.type).toBe("JSON");
    expect(result.handle).toBe('{"answer":42,"tags":["a"]}');
    const rows = await t.sql(`SELECT handle, handler_type, handled FROM result WHERE id = $1`, [result.id]);
    expect(rows).toEqual([{ handle: '{"answer":42,"tags":["a"]}', handler_type: "JSON", handled: true }]);
  });

  test("serves handle and handler without reading storage, and value only when selected", async ({ t }) => {
    const run = await startRun(t, { name: "lazy", tasks: [{ name: "out" }] });
    const result = await succeed(t, run.taskRuns.out!, "hello");
    // Corrupt the stored data: only a query that selects `value` can notice.
    await writeFile(result.handle, "not json {");

    const handles = await t.run(GetTaskRunHandles, { id: run.taskRuns.out!.id });
    expect(handles.errors).toBeUndefined();
    expect(handles.data?.taskRun?.state.result).toEqual({
      __typename: "Result",
      handled: true,
      handle: result.handle,
      sizeBytes: 7, // "hello" as JSON text, recorded when written: known without reading storage
      sha256: createHash("sha256").update('"hello"').digest("hex"),
      storedBytes: 7, // no codec: the JSON text as it is
      codecs: [],
      keyId: null,
      handler: { type: "LOCAL", dir: t.resultsDir, bucket: null, prefix: null, codecs: [], inlineBelowBytes: null },
    });

    const full = await t.run(GetTaskRun, { id: run.taskRuns.out!.id });
    expect(full.errors).toHaveLength(2); // `state.result.value` and `states[1].result.value`
    expect(full.errors?.map((e) => e.extensions?.code)).toEqual(["RESULT_INTEGRITY", "RESULT_INTEGRITY"]);
    expect(full.data?.taskRun?.state.type).toBe("SUCCESS");
    expect(full.data?.taskRun?.state.result).toMatchObject({ handle: result.handle, value: null });
  });

  test("never serves a value for a row that is not handled", async ({ t }) => {
    const run = await startRun(t, { name: "unhandled", tasks: [{ name: "out" }] });
    const result = await succeed(t, run.taskRuns.out!, "fine");
    await t.sql(`UPDATE result SET handled = false WHERE id = $1`, [result.id]);

    const read = await t.run(GetTaskRun, { id: run.taskRuns.out!.id });

    expect(read.errors?.[0]?.extensions?.code).toBe("RESULT_NOT_HANDLED");
    expect(read.data?.taskRun?.state.result).toMatchObject({ handled: false, value: null });
  });
});
