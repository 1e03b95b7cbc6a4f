import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ApiErrorEntry,
  createClient,
  type ExecutionResult,
  HandledApiError,
  type HandledClient,
  type Operation,
} from "@handled/client";
import pg from "pg";
import { type App, startApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config/config.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

/** A running service for a test file: its API, its database and its data folder. */
export interface TestApp {
  app: App;
  config: Config;
  /** The test's own folder (data dir, results, files to point handles at). */
  dir: string;
  /** The default LOCAL results directory. */
  resultsDir: string;
  /** The SDK's client for this service, over real HTTP. */
  client: HandledClient;
  /** Runs an SDK operation; returns data and errors as the client sees them. */
  run<R, V>(operation: Operation<R, V>, variables?: V): Promise<ExecutionResult<R>>;
  /** Runs an operation that must succeed; returns its data. */
  ok<R, V>(operation: Operation<R, V>, variables?: V): Promise<R>;
  /** Runs an operation that must fail; returns its errors. */
  fail<R, V>(operation: Operation<R, V>, variables?: V): Promise<readonly ApiErrorEntry[]>;
  /** Runs SQL on the service's database. */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/** Runs an SDK operation against an endpoint: data and errors as the client sees them. */
export function post<R, V>(url: string, operation: Operation<R, V>, variables?: V): Promise<ExecutionResult<R>> {
  return createClient({ url }).execute(operation, variables);
}

/**
 * POSTs a GraphQL document as a JSON body, as any HTTP client would, and gives the answer as it
 * came: for tests that look at what the SDK would hide (status, headers, bytes, raw errors).
 */
export function postDocument(
  t: Pick<TestApp, "app">,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Response> {
  return fetch(t.app.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
}

/** Options of startTestApp beyond the environment. */
export interface TestAppOptions {
  /** The URL the service connects with, from its database's (e.g. through a TCP proxy). */
  databaseUrl?: (url: string) => string;
}

/**
 * Starts the real service (HTTP, PostgreSQL, disk) on a free port with its own database and
 * data folder. `env` adds to the configuration, as the environment would.
 */
export async function startTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const dir = await mkdtemp(join(tmpdir(), "handled-test-"));
  const database: TestDatabase = await createTestDatabase();
  const databaseUrl = options.databaseUrl?.(database.url) ?? database.url;
  const config = loadConfig({ HANDLED_DATA_DIR: join(dir, "data"), PORT: "0", DATABASE_URL: databaseUrl, ...env });
  const resultsDir = join(dir, "data", "results");
  await mkdir(resultsDir, { recursive: true });
  const app = await startApp(config);
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  // Dropping the database at the end terminates its connections; one the pool is still closing
  // then reports that, which is expected.
  pool.on("error", () => undefined);

  const client = createClient({ url: app.url });
  return {
    app,
    config,
    dir,
    resultsDir,
    client,
    run: (operation, variables) => client.execute(operation, variables),
    ok: (operation, variables) => client.request(operation, variables),
    async fail(operation, variables) {
      try {
        const data = await client.request(operation, variables);
        throw new Error(`Expected errors, got: ${JSON.stringify(data)}`);
      } catch (error) {
        if (error instanceof HandledApiError) return error.errors;
        throw error;
      }
    },
    async sql(text, values) {
      return (await pool.query(text, values)).rows;
    },
    async stop() {
      await pool.end();
      await app.stop();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
