import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print, type FormattedExecutionResult } from "graphql";
import pg from "pg";
import { startApp, type App } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config/config.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

/** A running service for a test file: its API, its database and its data folder. */
export interface TestApp {
  app: App;
  config: Config;
  /** The test's own folder (data dir, results, files to point handles at). */
  dir: string;
  /** The default LOCAL results directory. */
  resultsDir: string;
  /** Runs a typed operation over HTTP; returns data and errors as the client sees them. */
  run<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<FormattedExecutionResult<R>>;
  /** Runs an operation that must succeed; returns its data. */
  ok<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<R>;
  /** Runs an operation that must fail; returns its errors. */
  fail<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<NonNullable<FormattedExecutionResult<R>["errors"]>>;
  /** Runs SQL on the service's database. */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/** Posts a typed GraphQL operation to an endpoint. */
export async function post<R, V>(
  url: string,
  document: TypedDocumentNode<R, V>,
  variables?: V,
): Promise<FormattedExecutionResult<R>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as FormattedExecutionResult<R>;
}

/**
 * Starts the real service (HTTP, PostgreSQL, disk) on a free port with its own database and
 * data folder. `env` adds to the configuration, as the environment would.
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dir = await mkdtemp(join(tmpdir(), "handled-test-"));
  const database: TestDatabase = await createTestDatabase();
  const config = loadConfig({ HANDLED_DATA_DIR: join(dir, "data"), PORT: "0", DATABASE_URL: database.url, ...env });
  const resultsDir = join(dir, "data", "results");
  await mkdir(resultsDir, { recursive: true });
  const app = await startApp(config);
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });

  const run = <R, V>(document: TypedDocumentNode<R, V>, variables?: V) => post(app.url, document, variables);
  return {
    app,
    config,
    dir,
    resultsDir,
    run,
    async ok(document, variables) {
      const result = await run(document, variables);
      if (result.errors?.length || !result.data) {
        throw new Error(`Expected success, got: ${JSON.stringify(result.errors)}`);
      }
      return result.data;
    },
    async fail(document, variables) {
      const result = await run(document, variables);
      if (!result.errors?.length) throw new Error(`Expected errors, got: ${JSON.stringify(result.data)}`);
      return result.errors;
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
