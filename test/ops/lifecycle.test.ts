import { readdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR } from "../../src/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { CreateFlow } from "../support/documents.js";
import { runServiceToExit, type ServiceProcess, startServiceProcess } from "../support/process.js";
import { startDatabaseProxy, type TcpProxy } from "../support/tcp-proxy.js";

// The service as operators run it: `node dist/main.js`, stopped with signals, its exit code read
// by a supervisor.

const LIST_FLOWS = JSON.stringify({ query: "query ListFlowNames { flows(first: 5) { nodes { name } } }" });

function listFlows(url: string): Promise<{ status: number; body: unknown }> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: LIST_FLOWS }).then(
    async (response) => ({
      status: response.status,
      body: await response.json(),
    }),
  );
}

describe("stopping", () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await startDatabaseProxy();
  });
  afterAll(async () => {
    await proxy.close();
    await database.drop();
  });

  it("on SIGTERM finishes the 20 requests in flight, refuses new connections, and exits 0", async () => {
    const service = await startServiceProcess({ DATABASE_URL: proxy.through(database.url) });
    try {
      await service.ok(CreateFlow, { input: { name: "drained", tasks: [{ name: "a" }] } });
      // PostgreSQL goes silent: the next 20 requests wait on it, in flight in the service.
      proxy.freeze();
      const inFlight = Array.from({ length: 20 }, () => listFlows(service.url));
      await new Promise((resolve) => setTimeout(resolve, 500));
      service.child.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 500));
      // The port is closed at once: a new connection is refused while the 20 finish.
      await expect(fetch(new URL("/livez", service.url), { headers: { connection: "close" } })).rejects.toThrow();
      expect(service.child.exitCode).toBeNull();
      proxy.thaw();
      const answers = await Promise.all(inFlight);
      expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
      expect(
        answers.every((answer) => JSON.stringify(answer.body) === '{"data":{"flows":{"nodes":[{"name":"drained"}]}}}'),
      ).toBe(true);
      expect(await service.exited).toEqual({ code: 0, signal: null });
      expect(service.logs().find((line) => line.msg === "stopped")).toMatchObject({ drained: true });
    } finally {
      proxy.thaw();
      await service.kill();
    }
  });

  it("on SIGINT with nothing running exits 0 at once", async () => {
    const service = await startServiceProcess({ DATABASE_URL: database.url });
    try {
      service.child.kill("SIGINT");
      expect(await service.exited).toEqual({ code: 0, signal: null });
    } finally {
      await service.kill();
    }
  });

  it("with HANDLED_SHUTDOWN_DELAY_MS, says not ready at once and keeps serving until the delay has passed", async () => {
    const service = await startServiceProcess({ DATABASE_URL: database.url, HANDLED_SHUTDOWN_DELAY_MS: "1500" });
    try {
      expect((await fetch(new URL("/readyz", service.url))).status).toBe(200);
      service.child.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ready = await fetch(new URL("/readyz", service.url));
      expect([ready.status, ready.headers.get("connection")]).toEqual([503, "close"]);
      expect((await fetch(new URL("/livez", service.url))).status).toBe(200);
      expect((await listFlows(service.url)).status).toBe(200);
      expect(service.child.exitCode).toBeNull();
      expect(await service.exited).toEqual({ code: 0, signal: null });
    } finally {
      await service.kill();
    }
  });

  it("cuts requests still running at HANDLED_SHUTDOWN_TIMEOUT_MS, and exits non-zero", async () => {
    const service: ServiceProcess = await startServiceProcess({
      DATABASE_URL: proxy.through(database.url),
      HANDLED_SHUTDOWN_TIMEOUT_MS: "1000",
    });
    try {
      await listFlows(service.url);
      proxy.freeze();
      const stuck = listFlows(service.url).then(
        () => "answered",
        () => "cut",
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const signalled = Date.now();
      service.child.kill("SIGTERM");
      expect(await stuck).toBe("cut");
      expect(await service.exited).toEqual({ code: 2, signal: null });
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(900);
      expect(service.logs().map((line) => line.msg)).toContain(
        "requests still running at the shutdown deadline; closing their connections",
      );
    } finally {
      proxy.thaw();
      await service.kill();
    }
  });
});

describe("a start that fails exits 1 with one line saying what to fix", () => {
  /** The service's fatal line: the one that says why it stopped. */
  const fatal = (output: string) =>
    output
      .split("\n")
      .filter((line) => line.includes('"level":60'))
      .map((line) => (JSON.parse(line) as { msg: string }).msg);

  it("for invalid configuration", async () => {
    const { code, output } = await runServiceToExit({
      PORT: "http",
      HANDLED_CORS_ORIGINS: "https://ui.example.com/app",
    });
    expect(code).toBe(1);
    const [line] = fatal(output);
    expect(line).toMatch(/^Invalid configuration, fix and restart: /);
    expect(line).toContain("PORT");
    expect(line).toContain("HANDLED_CORS_ORIGINS");
  });

  it("for a database that does not answer, after retrying for HANDLED_DB_CONNECT_TIMEOUT_MS", async () => {
    const closed = await unusedPort();
    const { code, output } = await runServiceToExit({
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/handled`,
      HANDLED_DB_CONNECT_TIMEOUT_MS: "1500",
    });
    expect(code).toBe(1);
    expect(fatal(output)).toEqual([
      expect.stringMatching(
        /^PostgreSQL did not answer \(.*ECONNREFUSED.*\) after \d+ tries: check that the server in DATABASE_URL is running/,
      ),
    ]);
    // Each failed try is logged as it happens.
    expect(output.match(/PostgreSQL did not answer; trying again/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it("for a migration that cannot be applied", async () => {
    const database = await createTestDatabase();
    try {
      // A migration recorded as failed (as `prisma migrate deploy` leaves one): it must be resolved first.
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      await client.query(`CREATE TABLE "_prisma_migrations" (id VARCHAR(36) PRIMARY KEY, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ,
        migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0)`);
      const first = readdirSync(MIGRATIONS_DIR)
        .filter((name) => /^\d/.test(name))
        .sort()[0]!;
      await client.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ('x', 'y', $1)`, [
        first,
      ]);
      await client.end();
      const { code, output } = await runServiceToExit({ DATABASE_URL: database.url });
      expect(code).toBe(1);
      expect(fatal(output)).toEqual([
        `Migrating the database failed: Migration ${first} failed earlier and was not rolled back; resolve it before starting. Fix the database (or the migration), then start again.`,
      ]);
    } finally {
      await database.drop();
    }
  });

  it("for a port in use", async () => {
    const database = await createTestDatabase();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const { code, output } = await runServiceToExit({ DATABASE_URL: database.url, PORT: String(port) });
      expect(code).toBe(1);
      expect(fatal(output)).toEqual([
        `Port ${port} on 127.0.0.1 is already in use: stop what holds it, or set PORT to a free port.`,
      ]);
    } finally {
      holder.close();
      await database.drop();
    }
  });
});

/** A loopback port nothing listens on. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
