import type pg from "pg";
import type { PrismaClient } from "../generated/prisma/client.js";
import { apiKeyQueries } from "./api-keys.js";
import { changeQueries } from "./changes.js";
import { flowQueries } from "./flows.js";
import { lifecycleQueries } from "./lifecycle.js";
import { projectQueries } from "./projects.js";
import { resultQueries } from "./results.js";
import { runQueries } from "./runs.js";
import { stateQueries } from "./states.js";
import { taskRunQueries } from "./task-runs.js";

/**
 * Every statement the service sends, grouped by concern: the one data-access layer. Services
 * and the API's loaders go through it and never see Prisma or the pool; a query that lists or
 * fetches by id is written once, here, so a scope added later (a project) is added once per query.
 */
export interface Queries {
  apiKeys: ReturnType<typeof apiKeyQueries>;
  projects: ReturnType<typeof projectQueries>;
  flows: ReturnType<typeof flowQueries>;
  runs: ReturnType<typeof runQueries>;
  taskRuns: ReturnType<typeof taskRunQueries>;
  states: ReturnType<typeof stateQueries>;
  results: ReturnType<typeof resultQueries>;
  lifecycle: ReturnType<typeof lifecycleQueries>;
  changes: ReturnType<typeof changeQueries>;
}

/** The queries over a database: Prisma for the plain ones, the pool under it for plain SQL. */
export function createQueries(prisma: PrismaClient, pool: pg.Pool): Queries {
  return {
    apiKeys: apiKeyQueries(prisma),
    projects: projectQueries(prisma),
    flows: flowQueries(prisma),
    runs: runQueries(prisma, pool),
    taskRuns: taskRunQueries(pool),
    states: stateQueries(pool),
    results: resultQueries(prisma),
    lifecycle: lifecycleQueries(pool),
    changes: changeQueries(pool),
  };
}
