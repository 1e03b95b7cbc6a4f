import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { loadEmbeddedPostgres } from "../../src/db/database.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A PostgreSQL server the tests may create databases on (any database on it). */
    serverUrl: string;
  }
}

/**
 * Tests run against `DATABASE_URL` when it is set (CI points it at its PostgreSQL server),
 * else against an embedded PostgreSQL started for this run. Each test file creates its own
 * database on that server.
 */
export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide("serverUrl", process.env.DATABASE_URL);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "handled-test-pg-"));
  const postgres = await (await loadEmbeddedPostgres()).startEmbeddedPostgres(dir);
  project.provide("serverUrl", postgres.url);
  return async () => {
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
