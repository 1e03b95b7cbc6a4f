import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { loadEmbeddedPostgres } from "../../src/db/database.js";
import { post, startTestApp, type TestApp } from "../support/app.js";
import { CreateFlow, GetTaskRun, ListFlows } from "../support/documents.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

const { startEmbeddedPostgres } = await loadEmbeddedPostgres();

// PostgreSQL may close any connection at any moment: a restart, a failover, an operator's
// pg_terminate_backend, a proxy's idle timeout. The service must live through it and carry on.
describe("connections closed by PostgreSQL", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());

  /** Closes every connection to the service's database but the one asking. */
  async function terminateConnections(): Promise<number> {
    const rows = await t.sql<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    return rows[0]!.n;
  }

  it("survives its idle connections being closed before Prisma's first query, and answers the next request", async () => {
    // Reads of task runs go to the pool directly; several at once leave several idle
    // connections in it, before Prisma has run anything of its own.
    const missing = "00000000-0000-4000-8000-000000000000";
    await Promise.all(Array.from({ length: 4 }, () => t.ok(GetTaskRun, { id: missing })));

    expect(await terminateConnections()).toBeGreaterThan(0);
    // The pool learns of it asynchronously; give it the moment it takes.
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect((await t.ok(ListFlows, {})).flows.nodes).toEqual([]);
  });

  it("recovers when connections are closed again and again under load", async () => {
    let stop = false;
    const failures: unknown[] = [];
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop) {
          const { errors } = await t.run(ListFlows, {});
          if (errors) failures.push(...errors.map((e) => e.extensions?.code));
        }
      }),
    );
    for (let round = 0; round < 5; round++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await terminateConnections();
    }
    stop = true;
    await load;

    // Requests caught mid-statement fail as retryable, never as internal errors.
    expect(failures.filter((code) => code !== "DATABASE_UNAVAILABLE")).toEqual([]);
    expect((await t.ok(ListFlows, {})).flows.nodes).toEqual([]);
  });
});

describe("a PostgreSQL server that restarts", () => {
  it("is ridden out: requests fail as retryable while it is down, and are served again after, without a restart of the service", async () => {
    const dir = await mkdtemp(join(tmpdir(), "handled-pg-restart-"));
    let postgres = await startEmbeddedPostgres(dir);
    // The service connects through a proxy, so the restarted server (on a new port) is found
    // at the same address, as behind a DNS name or a load balancer.
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(postgres.url).port) });
    const app = await startApp(
      loadConfig({
        DATABASE_URL: proxy.through(postgres.url),
        HANDLED_DATA_DIR: join(dir, "data"),
        PORT: "0",
        HANDLED_DB_CONNECT_TIMEOUT_MS: "1000",
      }),
    );
    try {
      const created = await post(app.url, CreateFlow, {
        input: { name: "before-the-restart", tasks: [{ name: "a" }] },
      });
      expect(created.errors).toBeUndefined();

      await postgres.stop();
      const during = await post(app.url, ListFlows, {});
      postgres = await startEmbeddedPostgres(dir);
      proxy.retarget({ host: "127.0.0.1", port: Number(new URL(postgres.url).port) });
      const after = await post(app.url, ListFlows, {});

      expect(during.errors?.map((e) => e.extensions?.code)).toEqual(["DATABASE_UNAVAILABLE"]);
      expect(after.errors).toBeUndefined();
      expect(after.data?.flows.nodes.map((flow) => flow.name)).toEqual(["before-the-restart"]);
    } finally {
      await app.stop();
      await postgres.stop();
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
