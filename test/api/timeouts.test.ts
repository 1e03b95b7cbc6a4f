import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResultHandlerInput } from "@handled/client";
import { test as base, describe, expect, inject, it } from "vitest";
import { startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { StartupError } from "../../src/errors.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { GetTaskRun, ListFlows, SetTaskRunStates } from "../support/documents.js";
import { startGcsEmulator, startS3Emulator } from "../support/emulators.js";
import { startRun, succeed } from "../support/flows.js";
import { recorded } from "../support/inspect.js";
import { startDatabaseProxy, startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

// Every wait on something outside the process is bounded: a store or a database that stops
// answering (a black hole, the worst case: no refusal, no reset) fails requests with a coded,
// retryable error within the configured time, and the service recovers when it comes back.

/** How long `work` takes, in milliseconds, and what it gave. */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

/** Store timeouts short enough for a test: each attempt gives up after 300 ms. */
const SHORT_STORE_TIMEOUTS = { HANDLED_STORE_CONNECT_TIMEOUT_MS: "300", HANDLED_STORE_REQUEST_TIMEOUT_MS: "300" };

/**
 * With the store behind `proxy` frozen, a read and a write of results of `handler` fail with
 * STORE_TIMEOUT in bounded time and record nothing; thawed, the store serves again.
 */
async function expectTimeoutsAndRecovery(t: TestApp, proxy: TcpProxy, handler: ResultHandlerInput): Promise<void> {
  const run = await startRun(t, {
    name: `frozen-${handler.type}`,
    tasks: [
      { name: "a", handler },
      { name: "b", handler },
    ],
  });
  const stored = await succeed(t, run.taskRuns.a!, { kept: true });
  proxy.freeze();
  const before = await recorded(t);

  const read = await timed(() => t.run(GetTaskRun, { id: run.taskRuns.a!.id }));
  const write = await timed(() =>
    t.run(SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.b!.id, version: 1, state: { type: "SUCCESS", result: { value: "never" } } }],
    }),
  );

  // At most three attempts of 300 ms each, with the SDK's back-off between them.
  expect(read.ms).toBeLessThan(10_000);
  expect(read.value.errors?.map((e) => e.extensions?.code)).toEqual(["STORE_TIMEOUT", "STORE_TIMEOUT"]);
  expect(read.value.data?.taskRun?.state.result).toMatchObject({ handle: stored.handle, value: null });
  expect(write.ms).toBeLessThan(10_000);
  expect(write.value.errors?.map((e) => e.extensions?.code)).toEqual(["STORE_TIMEOUT"]);
  expect(await recorded(t)).toEqual(before);

  proxy.thaw();
  const again = await t.ok(GetTaskRun, { id: run.taskRuns.a!.id });
  expect(again.taskRun?.state.result).toMatchObject({ value: { kept: true } });
}

/** A service whose store or database is reached through `proxy`, which a test can freeze. */
interface Behind {
  t: TestApp;
  proxy: TcpProxy;
}

/** Thaws and closes a proxy once the service behind it has stopped, then stops what it fronts. */
function tearDown({ t, proxy }: Behind, after: () => Promise<void> = async () => undefined): () => Promise<void> {
  return async () => {
    proxy.thaw();
    await t.stop();
    await proxy.close();
    await after();
  };
}

// Each describe below has one test, and each of these fixtures is set up for that test alone.
const test = base
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern.
  .extend("behindS3", async ({}, { onCleanup }): Promise<Behind> => {
    const s3 = await startS3Emulator();
    await s3.createBucket("frozen");
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(s3.endpoint).port) });
    const t = await startTestApp({
      ...s3.env(["frozen"]),
      HANDLED_S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
      ...SHORT_STORE_TIMEOUTS,
    });
    onCleanup(tearDown({ t, proxy }, () => s3.stop()));
    return { t, proxy };
  })
  // biome-ignore lint/correctness/noEmptyPattern: as above.
  .extend("behindGcs", async ({}, { onCleanup }): Promise<Behind> => {
    const gcs = await startGcsEmulator();
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(gcs.host).port) });
    // The GCS SDK finds the store through this variable (set by the emulator for this file).
    process.env.STORAGE_EMULATOR_HOST = `http://127.0.0.1:${proxy.port}`;
    const t = await startTestApp({ ...gcs.env(["frozen-gcs"]), ...SHORT_STORE_TIMEOUTS });
    onCleanup(tearDown({ t, proxy }, () => gcs.stop()));
    return { t, proxy };
  })
  // biome-ignore lint/correctness/noEmptyPattern: as above.
  .extend("behindDatabase", async ({}, { onCleanup }): Promise<Behind> => {
    const proxy = await startDatabaseProxy();
    const t = await startTestApp(
      { HANDLED_DB_CONNECT_TIMEOUT_MS: "500", HANDLED_DB_STATEMENT_TIMEOUT_MS: "1000" },
      { databaseUrl: (url) => proxy.through(url) },
    );
    onCleanup(tearDown({ t, proxy }));
    return { t, proxy };
  });

describe("an S3 store that stops answering", () => {
  test("fails reads and writes with STORE_TIMEOUT, records nothing, and recovers", async ({
    behindS3: { t, proxy },
  }) => {
    await expectTimeoutsAndRecovery(t, proxy, { type: "S3", bucket: "frozen" });
  });
});

describe("a GCS store that stops answering", () => {
  test("fails reads and writes with STORE_TIMEOUT, records nothing, and recovers", async ({
    behindGcs: { t, proxy },
  }) => {
    await expectTimeoutsAndRecovery(t, proxy, { type: "GCS", bucket: "frozen-gcs" });
  });
});

describe("a PostgreSQL that stops answering", () => {
  test("fails requests with DATABASE_UNAVAILABLE, answers /healthz 503 within 2 s, and recovers", async ({
    behindDatabase: { t, proxy },
  }) => {
    await startRun(t, { name: "before-the-outage", tasks: [{ name: "a" }] });
    proxy.freeze();

    const query = await timed(() => t.run(ListFlows, {}));
    const health = await timed(() => fetch(new URL("/healthz", t.app.url)));

    // A statement's 1 s plus a connect timeout, at most.
    expect(query.ms).toBeLessThan(5_000);
    expect(query.value.errors?.map((e) => e.extensions?.code)).toEqual(["DATABASE_UNAVAILABLE"]);
    expect(health.ms).toBeLessThan(2_500);
    expect(health.value.status).toBe(503);
    expect(await health.value.json()).toMatchObject({ errors: [{ extensions: { code: "DATABASE_UNAVAILABLE" } }] });

    proxy.thaw();
    // Connections that timed out were dropped; new ones are opened.
    const again = await t.ok(ListFlows, {});
    expect(again.flows.nodes.map((flow) => flow.name)).toEqual(["before-the-outage"]);
    expect((await fetch(new URL("/healthz", t.app.url))).status).toBe(200);
  });
});

describe("starting against a PostgreSQL that does not answer", () => {
  it("gives up within the connect timeout, saying what to fix", async () => {
    const server = new URL(inject("serverUrl"));
    const proxy = await startDatabaseProxy();
    const dir = await mkdtemp(join(tmpdir(), "handled-blackhole-"));
    proxy.freeze();
    try {
      const config = loadConfig({
        DATABASE_URL: proxy.through(server.toString()),
        HANDLED_DATA_DIR: dir,
        PORT: "0",
        HANDLED_DB_CONNECT_TIMEOUT_MS: "500",
      });

      const started = await timed(() =>
        startApp(config).then(
          () => "started",
          (error: unknown) => error,
        ),
      );

      expect(started.ms).toBeLessThan(5_000);
      expect(started.value).toBeInstanceOf(StartupError);
      expect((started.value as Error).message).toMatch(
        /PostgreSQL did not answer .*DATABASE_URL.*HANDLED_DB_CONNECT_TIMEOUT_MS=500/,
      );
    } finally {
      proxy.thaw();
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
