import { access } from "node:fs/promises";
import type { SetTaskRunStateInput } from "handled/client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { filesUnder } from "../support/files.js";
import { startRun } from "../support/flows.js";
import { startDatabaseProxy, type TcpProxy } from "../support/tcp-proxy.js";

// The connection to PostgreSQL can fail while a batch commits: after PostgreSQL has committed
// it, but before the answer arrives. The server must then find out what happened before it
// touches anything it wrote, never delete what a committed row points at, and let the client
// retry safely with the same idempotency keys.

/** Whether bytes the service sends are the statement that records a batch. */
const recordingStatement = (bytes: Buffer) => bytes.includes("WITH given AS");

describe("a commit whose answer is lost", () => {
  let proxy: TcpProxy;
  let t: TestApp;
  beforeAll(async () => {
    proxy = await startDatabaseProxy();
    t = await startTestApp({ HANDLED_DB_CONNECT_TIMEOUT_MS: "500" }, { databaseUrl: (url) => proxy.through(url) });
  });
  beforeEach(() => proxy.accept());
  afterAll(async () => {
    proxy.accept();
    await t.stop();
    await proxy.close();
  });

  /** A run of three LOCAL tasks, and a batch giving each a value and an idempotency key. */
  async function batchOfThree(name: string) {
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
  async function handlesOnDisk() {
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

  it("keeps what it wrote when it cannot learn the outcome, and a retry with the same keys answers with what was recorded", async () => {
    const { run, input } = await batchOfThree("unreachable");
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
    const onDisk = await handlesOnDisk();
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

  it("answers success when it learns that the batch was recorded", async () => {
    const { run, input } = await batchOfThree("learnt");
    const cut = proxy.cutAt(recordingStatement);

    const answer = await t.ok(SetTaskRunStates, { input });
    await cut;

    expect(answer.setTaskRunStates.map((taskRun) => taskRun.version)).toEqual([2, 2, 2]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM state WHERE idempotency_key LIKE 'learnt-%'`)).toEqual([
      { n: 3 },
    ]);
    expect((await handlesOnDisk()).filter((file) => !file.exists)).toEqual([]);
    const read = await t.ok(GetTaskRun, { id: run.taskRuns.c!.id });
    expect(read.taskRun?.state.result).toMatchObject({ value: { task: "c", rows: [1, 2, 3] } });
  });

  it("removes what it wrote when it learns the batch never reached PostgreSQL, and the retry records it", async () => {
    const { input } = await batchOfThree("never-sent");
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
    expect((await handlesOnDisk()).filter((file) => !file.exists)).toEqual([]);
  });
});

describe("idempotency keys", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());

  it("make a retry of a recorded batch answer with it, writing nothing", async () => {
    const run = await startRun(t, { name: "retried", tasks: [{ name: "a" }] });
    const input: SetTaskRunStateInput[] = [
      {
        taskRunId: run.taskRuns.a!.id,
        version: 1,
        idempotencyKey: "k-1",
        state: { type: "SUCCESS", result: { value: 42 } },
      },
    ];
    const first = await t.ok(SetTaskRunStates, { input });
    const files = await filesUnder(t.resultsDir);

    const again = await t.ok(SetTaskRunStates, { input });

    expect(again).toEqual(first);
    expect(await filesUnder(t.resultsDir)).toEqual(files);
    expect(
      await t.sql(`SELECT version FROM state WHERE task_run_id = $1 ORDER BY version`, [run.taskRuns.a!.id]),
    ).toEqual([{ version: 1 }, { version: 2 }]);
  });

  it("record a batch once when the same call is sent twice at once", async () => {
    const run = await startRun(t, { name: "raced", tasks: [{ name: "a" }, { name: "b" }] });
    const input: SetTaskRunStateInput[] = ["a", "b"].map((task) => ({
      taskRunId: run.taskRuns[task]!.id,
      version: 1,
      idempotencyKey: "same-call",
      state: { type: "SUCCESS", result: { value: task } },
    }));

    const answers = await Promise.all([t.ok(SetTaskRunStates, { input }), t.ok(SetTaskRunStates, { input })]);

    expect(answers[0]).toEqual(answers[1]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM state WHERE idempotency_key = 'same-call'`)).toEqual([{ n: 2 }]);
    // The loser's files were removed: one file per value.
    const handles = await t.sql<{ handle: string }>(
      `SELECT r.handle FROM state s JOIN result r ON r.id = s.result_id WHERE s.idempotency_key = 'same-call'`,
    );
    expect(
      (await filesUnder(t.resultsDir)).filter((file) => handles.some((row) => row.handle.endsWith(file))),
    ).toHaveLength(2);
  });

  it("refuse a key reused for a different change", async () => {
    const run = await startRun(t, { name: "reused", tasks: [{ name: "a" }, { name: "b" }] });
    await t.ok(SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.a!.id, version: 1, idempotencyKey: "once", state: { type: "RUNNING" } }],
    });

    const cases: SetTaskRunStateInput[][] = [
      // The next change of the same task run with the same key.
      [{ taskRunId: run.taskRuns.a!.id, version: 2, idempotencyKey: "once", state: { type: "SUCCESS" } }],
      // The same version with another state type.
      [{ taskRunId: run.taskRuns.a!.id, version: 1, idempotencyKey: "once", state: { type: "FAILED" } }],
      // A batch of which only a part was recorded with these keys.
      [
        { taskRunId: run.taskRuns.a!.id, version: 1, idempotencyKey: "once", state: { type: "RUNNING" } },
        { taskRunId: run.taskRuns.b!.id, version: 1, idempotencyKey: "once", state: { type: "RUNNING" } },
      ],
    ];
    for (const input of cases) {
      const errors = await t.fail(SetTaskRunStates, { input });
      expect(errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      expect(errors[0]?.message).toMatch(/a retry must repeat the same batch/);
    }
  });

  it("are checked like any text", async () => {
    const run = await startRun(t, { name: "bad-keys", tasks: [{ name: "a" }] });
    for (const idempotencyKey of ["", "k\u0000", "k".repeat(201)]) {
      const errors = await t.fail(SetTaskRunStates, {
        input: [{ taskRunId: run.taskRuns.a!.id, version: 1, idempotencyKey, state: { type: "RUNNING" } }],
      });
      expect(errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    }
  });
});
