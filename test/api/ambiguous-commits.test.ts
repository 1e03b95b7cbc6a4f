import { access } from "node:fs/promises";
import type { SetTaskRunStateInput } from "@handled/client";
import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import { GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { filesUnder } from "../support/files.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";
import { startDatabaseProxy } from "../support/tcp-proxy.js";

// The connection to PostgreSQL can fail while a batch commits: after PostgreSQL has committed
// it, but before the answer arrives. The server must then find out what happened before it
// touches anything it wrote, never delete what a committed row points at, and let the client
// retry safely with the same idempotency keys.

/** Whether bytes the service sends are the statement that records a batch. */
const recordingStatement = (bytes: Buffer) => bytes.includes("WITH given AS");

/** The service reaches PostgreSQL through `proxy`, which a test can cut or make refuse connections. */
const test = apiTest
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern.
  .extend("proxy", { scope: "file" }, async ({}, { onCleanup }) => {
    const proxy = await startDatabaseProxy();
    onCleanup(() => proxy.close());
    return proxy;
  })
  .override("env", { scope: "file" }, async () => ({ HANDLED_DB_CONNECT_TIMEOUT_MS: "500" }))
  .override("appOptions", { scope: "file" }, async ({ proxy }) => ({
    databaseUrl: (url: string) => proxy.through(url),
  }));
// Every test starts, and leaves the service to stop, with connections accepted.
test.beforeEach(({ proxy }) => proxy.accept());
test.afterEach(({ proxy }) => proxy.accept());

describe("a commit whose answer is lost", () => {
  /** A run of three LOCAL tasks, and a batch giving each a value and an idempotency key. */
  async function batchOfThree(t: TestApp, name: string) {
    const run = await startRun(t, { name, tasks: [{ name: "a" }, { name: "b" }, { name: "c" }] });
    const input: SetTaskRunStateInput[] = ["a", "b", "c"].map((task) => ({
      taskRunId: run.taskRuns[task]!.id,
      version: 1,
      idempotencyKey: `${name}-${task}-attempt-1`,
      state: { type: "SUCCESS", result: { value: { task, rows: [1, 2, 3] } } },
    }));
    return { run, input };
  }

  /** Every result row's LOCAL handle, and whether a file is behind it. */
  async function handlesOnDisk(t: TestApp) {
    const rows = await t.sql<{ handle: string }>(
      `SELECT handle FROM result WHERE handler_type = 'LOCAL' ORDER BY handle`,
    );
    return Promise.all(
      rows.map(async ({ handle }) => ({
        handle,
        exists: await access(handle).then(
          () => true,
          () => false,
        ),
      })),
    );
  }

  test("keeps what it wrote when it cannot learn the outcome, and a retry with the same keys answers with what was recorded", async ({
    t,
    proxy,
  }) => {
    const { run, input } = await batchOfThree(t, "unreachable");
    // The statement reaches PostgreSQL, which commits it; the answer is dropped, the connection
    // cut, and every new connection refused while the server tries to learn the outcome.
    const cut = proxy.cutAt(recordingStatement).then(() => proxy.refuse());

    const first = await t.run(SetTaskRunStates, { input });
    await cut;

    expect(first.errors?.map((e) => e.extensions?.code)).toEqual(["DATABASE_UNAVAILABLE"]);
    expect(first.errors?.[0]?.message).toMatch(/Retry the same batch with the same idempotency keys/);
    // PostgreSQL did commit, and no committed row points at a missing file.
    const committed = await t.sql(`SELECT count(*)::int AS n FROM state WHERE idempotency_key LIKE 'unreachable-%'`);
    expect(committed).toEqual([{ n: 3 }]);
    const onDisk = await handlesOnDisk(t);
    expect(onDisk.length).toBeGreaterThanOrEqual(3);
    expect(onDisk.filter((file) => !file.exists)).toEqual([]);
    const files = await filesUnder(t.resultsDir);

    proxy.accept();
    const retry = await t.ok(SetTaskRunStates, { input });

    expect(retry.setTaskRunStates.map((taskRun) => [taskRun.version, taskRun.state.type])).toEqual([
      [2, "SUCCESS"],
      [2, "SUCCESS"],
      [2, "SUCCESS"],
    ]);
    expect(
      retry.setTaskRunStates.map(
        (taskRun) => taskRun.state.result.__typename === "Result" && taskRun.state.result.value,
      ),
    ).toEqual([
      { task: "a", rows: [1, 2, 3] },
      { task: "b", rows: [1, 2, 3] },
      { task: "c", rows: [1, 2, 3] },
    ]);
    // The retry wrote nothing: it answered with what the first call recorded.
    expect(await filesUnder(t.resultsDir)).toEqual(files);
    const read = await t.ok(GetTaskRun, { id: run.taskRuns.a!.id });
    expect(read.taskRun?.state.result).toMatchObject({ value: { task: "a", rows: [1, 2, 3] } });
  });

  test("answers success when it learns that the batch was recorded", async ({ t, proxy }) => {
    const { run, input } = await batchOfThree(t, "learnt");
    const cut = proxy.cutAt(recordingStatement);

    const answer = await t.ok(SetTaskRunStates, { input });
    await cut;

    expect(answer.setTaskRunStates.map((taskRun) => taskRun.version)).toEqual([2, 2, 2]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM state WHERE idempotency_key LIKE 'learnt-%'`)).toEqual([
      { n: 3 },
    ]);
    expect((await handlesOnDisk(t)).filter((file) => !file.exists)).toEqual([]);
    const read = await t.ok(GetTaskRun, { id: run.taskRuns.c!.id });
    expect(read.taskRun?.state.result).toMatchObject({ value: { task: "c", rows: [1, 2, 3] } });
  });

  test("removes what it wrote when it learns the batch never reached PostgreSQL, and the retry records it", async ({
    t,
    proxy,
  }) => {
    const { input } = await batchOfThree(t, "never-sent");
    const files = await filesUnder(t.resultsDir);
    const cut = proxy.cutAt(recordingStatement, { forward: false });

    const first = await t.run(SetTaskRunStates, { input });
    await cut;

    expect(first.errors?.map((e) => e.extensions?.code)).toEqual(["DATABASE_UNAVAILABLE"]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM state WHERE idempotency_key LIKE 'never-sent-%'`)).toEqual([
      { n: 0 },
    ]);
    expect(await filesUnder(t.resultsDir)).toEqual(files);

    const retry = await t.ok(SetTaskRunStates, { input });
    expect(retry.setTaskRunStates.map((taskRun) => taskRun.version)).toEqual([2, 2, 2]);
    expect((await handlesOnDisk(t)).filter((file) => !file.exists)).toEqual([]);
  });
});
