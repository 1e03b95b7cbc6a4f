import { readdir } from "node:fs/promises";
import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import { DeleteFlowRun, GetTaskRun, SetTaskRunStates, SetTaskRunStatesLean } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";
import { intentCount } from "../support/inspect.js";
import { metricsText, metricValue, statementsOf } from "../support/metrics.js";

// Statements are counted per request: the projects' places, which reads and writes consult, are
// read again once HANDLED_AUTH_CACHE_MS has passed, and such a read must not fall inside a count.
const test = apiTest.override("env", { scope: "file" }, async () => ({ HANDLED_AUTH_CACHE_MS: "600000" }));

// A batch of values the JSON handler keeps in the database, for task runs a batch has loaded
// before, is recorded in one statement: what it would load never changes, and the recording
// statement checks versions and existence itself. These tests hold it to the answers the
// two-statement path gives.

type Entry = { id: string; version: number };

const succeed = (runs: Entry[], value: (i: number) => unknown) =>
  runs.map((run, i) => ({
    taskRunId: run.id,
    version: run.version,
    state: { type: "SUCCESS" as const, result: { value: value(i) } },
  }));

async function started(t: TestApp, name: string, handler: { type: "JSON" } | { type: "LOCAL"; dir: string }) {
  const run = await startRun(t, { name, handler, tasks: [{ name: "a" }, { name: "b" }] });
  return { run, entries: Object.values(run.taskRuns) };
}

async function storedValue(t: TestApp, id: string): Promise<unknown> {
  const { taskRun } = await t.ok(GetTaskRun, { id });
  const result = taskRun!.state.result;
  if (result.__typename !== "Result") throw new Error("expected a result");
  return result.value;
}

describe("a batch of inline values for task runs loaded before", () => {
  test("is recorded in one statement, as the first batch was in two", async ({ t }) => {
    const { entries } = await started(t, "known twice", { type: "JSON" });
    expect(
      await statementsOf(t, () => t.ok(SetTaskRunStatesLean, { input: succeed(entries, (i) => ({ first: i })) })),
    ).toBe(2);
    for (const entry of entries) entry.version++;
    const { setTaskRunStates } = await t.ok(SetTaskRunStates, { input: succeed(entries, (i) => ({ second: i })) });
    expect(setTaskRunStates.map((run) => run.version)).toEqual([3, 3]);
    for (const entry of entries) entry.version++;
    expect(
      await statementsOf(t, () => t.ok(SetTaskRunStatesLean, { input: succeed(entries, (i) => ({ third: i })) })),
    ).toBe(1);
    expect(await storedValue(t, entries[1]!.id)).toEqual({ third: 1 });
  });

  test("is refused with VERSION_MISMATCH for a stale version, recording none of it", async ({ t }) => {
    const { entries } = await started(t, "known stale", { type: "JSON" });
    await t.ok(SetTaskRunStatesLean, { input: succeed(entries, () => "kept") });
    // Entry a is current (2), entry b stale (1).
    const errors = await t.fail(SetTaskRunStatesLean, {
      input: succeed([{ id: entries[0]!.id, version: 2 }, entries[1]!], () => "lost"),
    });
    expect(errors.map((error) => error.extensions?.code)).toEqual(["VERSION_MISMATCH"]);
    expect(errors[0]!.message).toBe(`Task run ${entries[1]!.id} is at version 2, not 1: read it again and retry.`);
    for (const entry of entries) {
      expect(await storedValue(t, entry.id)).toBe("kept");
      expect((await t.ok(GetTaskRun, { id: entry.id })).taskRun!.version).toBe(2);
    }
  });

  test("is refused with NOT_FOUND once its flow run is deleted, as before", async ({ t }) => {
    const { run, entries } = await started(t, "known deleted", { type: "JSON" });
    await t.ok(SetTaskRunStatesLean, { input: succeed(entries, () => 1) });
    for (const entry of entries) entry.version++;
    await t.ok(DeleteFlowRun, { id: run.flowRunId });
    for (let attempt = 0; attempt < 2; attempt++) {
      const errors = await t.fail(SetTaskRunStatesLean, { input: succeed(entries, () => 2) });
      expect(errors.map((error) => error.extensions?.code)).toEqual(["NOT_FOUND"]);
      expect(errors[0]!.message).toMatch(/^No task run has the id "/);
    }
    expect(await t.sql("SELECT 1 FROM state WHERE task_run_id = ANY($1::uuid[])", [entries.map((e) => e.id)])).toEqual(
      [],
    );
  });

  test("is checked before any file is written when its values go outside the database: a stale LOCAL batch writes no file", async ({
    t,
  }) => {
    const { entries } = await started(t, "known local", { type: "LOCAL", dir: t.resultsDir });
    await t.ok(SetTaskRunStatesLean, { input: succeed(entries, () => "on disk") });
    const files = (await readdir(t.resultsDir, { recursive: true })).length;
    const errors = await t.fail(SetTaskRunStatesLean, { input: succeed(entries, () => "never written") });
    expect(errors.map((error) => error.extensions?.code)).toEqual(["VERSION_MISMATCH"]);
    expect((await readdir(t.resultsDir, { recursive: true })).length).toBe(files);
    for (const entry of entries) entry.version++;
    expect(
      await statementsOf(t, () => t.ok(SetTaskRunStatesLean, { input: succeed(entries, () => "again") })),
    ).toBeGreaterThan(1);
  });
});

// Values written outside the database, for task runs loaded before: the statement that records
// the write intents checks the batch's versions too, so the batch is two statements, not three,
// and a stale one still writes nothing.
describe("a batch of values written to files, for task runs loaded before", () => {
  const files = async (t: TestApp) =>
    (await readdir(t.resultsDir, { recursive: true })).filter((name) => name.endsWith(".json")).length;
  // Files written, removed or not: a stale batch's files, were they written, would be removed.
  const writes = async (t: TestApp) =>
    metricValue(await metricsText(t), "handled_handler_duration_seconds_count", {
      handler: "LOCAL",
      call: "write",
      outcome: "ok",
    });

  test("is recorded in two statements, as the first batch was in three", async ({ t }) => {
    const { entries } = await started(t, "known files", { type: "LOCAL", dir: t.resultsDir });
    expect(
      await statementsOf(t, () => t.ok(SetTaskRunStatesLean, { input: succeed(entries, (i) => ({ first: i })) })),
    ).toBe(3);
    for (const entry of entries) entry.version++;
    const before = await files(t);
    expect(
      await statementsOf(t, () => t.ok(SetTaskRunStatesLean, { input: succeed(entries, (i) => ({ second: i })) })),
    ).toBe(2);
    expect(await files(t)).toBe(before + 2);
    expect(await storedValue(t, entries[0]!.id)).toEqual({ second: 0 });
    expect(await storedValue(t, entries[1]!.id)).toEqual({ second: 1 });
    expect(await intentCount(t)).toBe(0);
  });

  test("is refused with VERSION_MISMATCH when one entry is stale, writing no file and no intent", async ({ t }) => {
    const { entries } = await started(t, "known files stale", { type: "LOCAL", dir: t.resultsDir });
    await t.ok(SetTaskRunStatesLean, { input: succeed(entries, () => "kept") });
    const before = { files: await files(t), intents: await intentCount(t), writes: await writes(t) };
    // Entry a is current (2), entry b stale (1).
    const errors = await t.fail(SetTaskRunStatesLean, {
      input: succeed([{ id: entries[0]!.id, version: 2 }, entries[1]!], () => "lost"),
    });
    expect(errors.map((error) => error.extensions?.code)).toEqual(["VERSION_MISMATCH"]);
    expect(errors[0]!.message).toBe(`Task run ${entries[1]!.id} is at version 2, not 1: read it again and retry.`);
    expect({ files: await files(t), intents: await intentCount(t), writes: await writes(t) }).toEqual(before);
    for (const entry of entries) {
      expect(await storedValue(t, entry.id)).toBe("kept");
      expect((await t.ok(GetTaskRun, { id: entry.id })).taskRun!.version).toBe(2);
    }
  });

  test("is refused with NOT_FOUND once its flow run is deleted, writing no file", async ({ t }) => {
    const { run, entries } = await started(t, "known files deleted", { type: "LOCAL", dir: t.resultsDir });
    await t.ok(SetTaskRunStatesLean, { input: succeed(entries, () => 1) });
    for (const entry of entries) entry.version++;
    await t.ok(DeleteFlowRun, { id: run.flowRunId });
    const before = { files: await files(t), writes: await writes(t) };
    for (let attempt = 0; attempt < 2; attempt++) {
      const errors = await t.fail(SetTaskRunStatesLean, { input: succeed(entries, () => 2) });
      expect(errors.map((error) => error.extensions?.code)).toEqual(["NOT_FOUND"]);
      expect(errors[0]!.message).toBe(`No task run has the id "${entries[0]!.id}".`);
    }
    expect({ files: await files(t), writes: await writes(t) }).toEqual(before);
    expect(await t.sql("SELECT 1 FROM state WHERE task_run_id = ANY($1::uuid[])", [entries.map((e) => e.id)])).toEqual(
      [],
    );
  });
});
