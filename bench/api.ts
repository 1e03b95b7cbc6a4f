// API benchmark: state changes and reads through the whole service (HTTP, GraphQL, PostgreSQL,
// handler), per handler. Uses DATABASE_URL when set (a fresh database is made on that server),
// else an embedded PostgreSQL. Prints figures; asserts nothing. Run: npm run bench
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config/config.js";
import { startEmbeddedPostgres } from "../src/db/embedded-postgres.js";

const RUNS = Number(process.env.BENCH_API_RUNS ?? 40);
const TASKS = 25;

async function gql<T>(url: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (body.errors || !body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const dir = await mkdtemp(join(tmpdir(), "handled-bench-api-"));
let serverUrl = process.env.DATABASE_URL;
const embedded = serverUrl ? undefined : await startEmbeddedPostgres(join(dir, "pg"));
serverUrl ??= embedded!.url;
const database = `handled_bench_${Date.now()}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE "${database}"`);
const url = new URL(serverUrl);
url.pathname = `/${database}`;
const app = await startApp(loadConfig({ DATABASE_URL: url.toString(), HANDLED_DATA_DIR: join(dir, "data"), PORT: "0" }));

try {
  console.log(`API: ${RUNS} flow runs of ${TASKS} tasks each; one setTaskRunStates batch of ${TASKS} per run, then one read of every value`);
  for (const handler of [{ type: "JSON" }, { type: "LOCAL", dir: join(dir, "data", "results") }]) {
    const { createFlow } = await gql<{ createFlow: { id: string } }>(
      app.url,
      `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id } }`,
      { input: { name: `bench-${handler.type}`, handler, tasks: Array.from({ length: TASKS }, (_, i) => ({ name: `t${i}` })) } },
    );
    let setSeconds = 0;
    let readSeconds = 0;
    for (let run = 0; run < RUNS; run++) {
      const { createFlowRun } = await gql<{ createFlowRun: { id: string; taskRuns: { id: string }[] } }>(
        app.url,
        `mutation($input: CreateFlowRunInput!) { createFlowRun(input: $input) { id taskRuns { id } } }`,
        { input: { flowId: createFlow.id } },
      );
      const input = createFlowRun.taskRuns.map((taskRun, i) => ({
        taskRunId: taskRun.id,
        version: 1,
        state: { type: "SUCCESS", result: { value: { run, task: i, rows: Array.from({ length: 20 }, (_, j) => j) } } },
      }));
      let start = performance.now();
      await gql(app.url, `mutation($input: [SetTaskRunStateInput!]!) { setTaskRunStates(input: $input) { id version } }`, { input });
      setSeconds += (performance.now() - start) / 1000;
      start = performance.now();
      await gql(
        app.url,
        `query($id: ID!) { flowRun(id: $id) { taskRuns { state { result { ... on Result { handle value } } } } } }`,
        { id: createFlowRun.id },
      );
      readSeconds += (performance.now() - start) / 1000;
    }
    const states = RUNS * TASKS;
    console.log(
      `${handler.type.padEnd(6)} set ${(states / setSeconds).toFixed(0).padStart(6)} states/s (${((setSeconds / RUNS) * 1000).toFixed(1)} ms a batch)` +
        ` | read ${(states / readSeconds).toFixed(0).padStart(6)} values/s (${((readSeconds / RUNS) * 1000).toFixed(1)} ms a flow run)`,
    );
  }
} finally {
  await app.stop();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
  await embedded?.stop();
  await rm(dir, { recursive: true, force: true });
}
