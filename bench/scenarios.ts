// What the benchmark measures: the write path, the read path and large values, each beside the
// ceiling it is held against.
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { S3Client } from "@aws-sdk/client-s3";
import type pg from "pg";
import { newRowId } from "../src/services/ids.js";
import { type ApiClient, SET_STATES, setStatesBody, type TaskRunSlot, valueOfSize } from "./api.js";
import { writeNewFiles } from "./ceiling-files.js";
import { FLOW_RUN_RESULTS_SQL, MULTI_ROW_SQL } from "./ceiling-sql.js";
import { withCpu } from "./cpu.js";
import { httpLoad, type LoadResult, medianTime, type NextRequest, pgLoad } from "./load.js";
import { readRss, resetPeakRss } from "./processes.js";
import type { Row } from "./report.js";

/** Everything a scenario needs. */
export interface Bench {
  settings: {
    /** How long each load runs, after a warm-up of its own. */
    seconds: number;
    warmupSeconds: number;
    concurrencies: number[];
    /** Requests sent one at a time to count SQL statements. */
    sequential: number;
    largeBytes: number;
    largeRepeats: number;
  };
  api: ApiClient;
  apiPid: number;
  apolloUrl: string;
  apolloPid: number;
  /** A pool on the API's own database, for the ceilings. */
  pool: pg.Pool;
  resultsDir: string;
  rawDir: string;
  s3: { client: S3Client; bucket: string; put(key: string, body: Buffer): Promise<unknown> };
  progress(what: string): void;
}

const SMALL_BYTES = 1000;
const BIG_BATCH = 50;
const FLOW_RUN_TASKS = 100;
const HANDLERS = (b: Bench) => [
  { name: "JSON", spec: { type: "JSON" } },
  { name: "LOCAL", spec: { type: "LOCAL", dir: b.resultsDir } },
];

/** Round-robin over `slots`: each request takes a free one and gives it back when answered. */
function fromSlots(slots: TaskRunSlot[], value: (i: number) => unknown): () => NextRequest {
  const free = [...slots];
  return () => {
    const slot = free.pop();
    if (!slot) throw new Error("more requests in flight than task-run slots");
    return {
      body: setStatesBody(slot, value),
      done: (ok) => {
        if (ok) slot.version++;
        free.push(slot);
      },
    };
  };
}

function roundRobin(bodies: string[]): () => NextRequest {
  let i = 0;
  return () => ({ body: bodies[i++ % bodies.length]! });
}

async function warmAndMeasure(
  b: Bench,
  url: string,
  concurrency: number,
  next: () => () => NextRequest,
): Promise<LoadResult> {
  await httpLoad(url, concurrency, b.settings.warmupSeconds, next());
  const server = url.startsWith(b.apolloUrl) ? b.apolloPid : b.apiPid;
  return withCpu(server, () => httpLoad(url, concurrency, b.settings.seconds, next()));
}

const loadFigures = (load: LoadResult) => ({
  p50: load.p50,
  p99: load.p99,
  errors: load.errors || undefined,
  ...(load.cpu ? { cpu: load.cpu } : {}),
});

function against(value: number, ceiling: { what: string; value: number } | undefined, target?: number): Partial<Row> {
  if (!ceiling) return {};
  const ratio = value / ceiling.value;
  return { ceiling, ratio, ...(target === undefined ? {} : { target: `≥ ${target}`, met: ratio >= target }) };
}

// The rows a state change stores, straight into PostgreSQL: the version bump, the result row
// (with the 1 KB handle a JSON result has) and the state row.
const SINGLE_ROW_SQL = `
  WITH bumped AS (UPDATE task_run SET version = version + 1 WHERE id = $1 AND version = $2),
       r AS (INSERT INTO result (id, handler_type, handler_config, handle) VALUES ($4, 'JSON', '{"type":"JSON"}', $5))
  INSERT INTO state (id, task_run_id, version, type, result_id) VALUES ($3, $1, $2 + 1, 'SUCCESS', $4)`;

/**
 * What any server of a batch of 50 values must at least do, beside the bare statement: on the
 * same framework, take the batch as GraphQL input (the API's own request body) and run that
 * statement; write the 50 files, as the LOCAL handler does (see writeNewFiles), then run it; or
 * both. Returns their rows, which the caller gives against the bare statement (measured after
 * them), and the framework's two figures, for the API's rows (see batchNote).
 */
async function batchCeilings(
  b: Bench,
  flowId: string,
  slots: TaskRunSlot[],
  value: (i: number) => unknown,
  handles: string[],
  concurrency: number,
): Promise<{ rows: Row[]; figures: BatchCeilingFigures }> {
  const runs = async () => (await b.api.createFlowRuns(flowId, 2 * concurrency)).map((run) => run.slot);
  const apolloLoad = async (url: string) => {
    const [warm, measured] = [await runs(), await runs()];
    let first = true;
    return warmAndMeasure(b, url, concurrency, () => {
      const next = fromSlots(first ? warm : measured, value);
      first = false;
      return next;
    });
  };
  b.progress(`ceilings closest to the API's batches of 50, ${concurrency} at once`);
  const apollo = await apolloLoad(b.apolloUrl);
  const apolloFiles = await apolloLoad(new URL("files", b.apolloUrl).href);
  const withFiles = await pgLoad(b.pool, concurrency, b.settings.seconds, async (client, worker) => {
    const slot = slots[worker]!;
    const ids = () => slot.taskRunIds.map(() => newRowId());
    const paths = writeNewFiles(b.resultsDir, handles);
    await client.query(MULTI_ROW_SQL, [slot.taskRunIds, slot.taskRunIds.map(() => slot.version), ids(), ids(), paths]);
    slot.version++;
  });
  const figures = { apollo: apollo.perSecond * BIG_BATCH, apolloFiles: apolloFiles.perSecond * BIG_BATCH };
  const row = (what: string, load: LoadResult, states: number): Row => ({
    section: "write",
    what,
    batch: BIG_BATCH,
    concurrency,
    value: states,
    unit: "states/s",
    sqlPerRequest: 1,
    ...loadFigures(load),
  });
  const rows = [
    row("Apollo Server + the same multi-row INSERT, from the API's request (ceiling)", apollo, figures.apollo),
    row("pg multi-row INSERT + the 50 files written with fs (ceiling)", withFiles, withFiles.perSecond * BIG_BATCH),
    row(
      "Apollo Server + the 50 files written with fs + the same INSERT, from the API's request (ceiling)",
      apolloFiles,
      figures.apolloFiles,
    ),
  ];
  return { rows, figures };
}
/** States a second of the framework's closest ceilings: with the INSERT, and with the files too. */
type BatchCeilingFigures = { apollo: number; apolloFiles: number };

/** A batch-50 row against the ceiling closest to what it does (see batchCeilings). */
function batchNote(handler: string, states: number, concurrency: number, figures: BatchCeilingFigures): string {
  return handler === "JSON"
    ? `against Apollo + the same INSERT: ${(states / figures.apollo).toFixed(2)} at ${concurrency} at once`
    : `against Apollo + the files + the same INSERT: ${(states / figures.apolloFiles).toFixed(2)} at ${concurrency} at once`;
}

/**
 * Writes, by batch size and concurrency: for batches of 50 the ceilings closest to each handler
 * (see batchCeilings), then the plain-pg ceiling, then setTaskRunStates through each handler.
 * The API's rows are measured right after the ceiling they are held against, on tables as
 * full (with random ids, PostgreSQL's cost of the same statement grew by a third as the loads
 * filled the tables: BENCHMARKS.md, "Row ids in time order").
 */
export async function writeRows(b: Bench): Promise<Row[]> {
  const { api, settings } = b;
  const rows: Row[] = [];
  for (const batch of [1, BIG_BATCH]) {
    const what = batch === 1 ? "pg single-row INSERT" : `pg multi-row INSERT`;
    const ceilingFlowId = await api.createFlow(`ceiling-${batch}`, { type: "JSON" }, batch);
    const value = (i: number) => valueOfSize(SMALL_BYTES, i);
    const handles = Array.from({ length: batch }, (_, i) => JSON.stringify(value(i)));
    const handlers = [];
    for (const handler of HANDLERS(b)) {
      const flowId = await api.createFlow(`write-${handler.name}-${batch}`, handler.spec, batch);
      const [counted] = await api.createFlowRuns(flowId, 1);
      const sqlPerRequest = await api.statementsPer(settings.sequential, async () => {
        await api.post(setStatesBody(counted!.slot, value));
        counted!.slot.version++;
      });
      handlers.push({ ...handler, flowId, sqlPerRequest });
    }
    for (const concurrency of settings.concurrencies) {
      const slots = (await api.createFlowRuns(ceilingFlowId, concurrency)).map((run) => run.slot);
      const closest =
        batch === BIG_BATCH ? await batchCeilings(b, ceilingFlowId, slots, value, handles, concurrency) : undefined;
      b.progress(`${what}, ${concurrency} at once`);
      const load = await pgLoad(b.pool, concurrency, settings.seconds, async (client, worker) => {
        const slot = slots[worker]!;
        if (batch === 1) {
          await client.query(SINGLE_ROW_SQL, [slot.taskRunIds[0], slot.version, newRowId(), newRowId(), handles[0]]);
        } else {
          const ids = () => slot.taskRunIds.map(() => newRowId());
          await client.query(MULTI_ROW_SQL, [
            slot.taskRunIds,
            slot.taskRunIds.map(() => slot.version),
            ids(),
            ids(),
            handles,
          ]);
        }
        slot.version++;
      });
      const ceiling = { what, value: load.perSecond * batch };
      rows.push({
        section: "write",
        what: `${what} (ceiling)`,
        batch,
        concurrency,
        value: ceiling.value,
        unit: "states/s",
        sqlPerRequest: 1,
        ...loadFigures(load),
      });
      const versus = { what: "pg", value: ceiling.value };
      rows.push(...(closest?.rows ?? []).map((row) => ({ ...row, ...against(row.value, versus) })));

      for (const handler of handlers) {
        b.progress(`setTaskRunStates ${handler.name}, batch ${batch}, ${concurrency} at once`);
        // Fresh task runs for each load: a request cut off when a load ends leaves its own behind.
        const slots = async () => (await api.createFlowRuns(handler.flowId, 2 * concurrency)).map((run) => run.slot);
        const warm = await slots();
        const measured = await slots();
        let first = true;
        const load = await warmAndMeasure(b, api.url, concurrency, () => {
          const next = fromSlots(first ? warm : measured, value);
          first = false;
          return next;
        });
        const states = load.perSecond * batch;
        rows.push({
          section: "write",
          what: "API setTaskRunStates",
          handler: handler.name,
          batch,
          concurrency,
          value: states,
          unit: "states/s",
          sqlPerRequest: handler.sqlPerRequest,
          ...loadFigures(load),
          // Batches of 50 inline values are held to 0.6 of the ceiling, those that write files to 0.5.
          ...against(states, ceiling, batch === BIG_BATCH ? (handler.name === "JSON" ? 0.6 : 0.5) : undefined),
          ...(closest ? { note: batchNote(handler.name, states, concurrency, closest.figures) } : {}),
        });
      }
    }
  }
  return rows;
}

const TASK_RUN_RESULT_SQL = `
  SELECT r.handler_type, r.handler_config, r.handle, r.handled
  FROM task_run t JOIN state s ON s.task_run_id = t.id AND s.version = t.version
  LEFT JOIN result r ON r.id = s.result_id
  WHERE t.id = $1`;
const TASK_RUN_QUERY = `query($id: ID!) { taskRun(id: $id) { state { result { ... on Result { value } } } } }`;
const FLOW_RUN_QUERY = `query($id: ID!) {
  flowRun(id: $id) { taskRuns(first: ${FLOW_RUN_TASKS}) { nodes { id version state { type result { ... on Result { handle value } } } } } }
}`;

/** Reads: the Apollo and pg ceilings, then one result's value and a whole flow run's. */
export async function readRows(b: Bench): Promise<Row[]> {
  const { api, settings } = b;
  const rows: Row[] = [];
  const sample = new Map<string, { flowRunId: string; small: string; taskRunIds: string[] }>();
  for (const handler of HANDLERS(b)) {
    const [run] = await api.createFlowRuns(
      await api.createFlow(`read-${handler.name}`, handler.spec, FLOW_RUN_TASKS),
      1,
    );
    await api.post(setStatesBody(run!.slot, (i) => valueOfSize(SMALL_BYTES, i)));
    const [small] = await api.createFlowRuns(await api.createFlow(`read-small-${handler.name}`, handler.spec, 10), 1);
    await api.post(setStatesBody(small!.slot, (i) => valueOfSize(SMALL_BYTES, i)));
    sample.set(handler.name, { flowRunId: run!.id, small: small!.id, taskRunIds: run!.slot.taskRunIds });
  }
  const ids = sample.get("JSON")!.taskRunIds;

  const apollo = new Map<number, number>();
  const apolloPg = new Map<number, number>();
  const pgFlowRun = new Map<number, number>();
  const pgFsFlowRun = new Map<number, number>();
  /** By handler and concurrency ("JSON:4"). */
  const apolloFlowRun = new Map<string, number>();
  const localFlowRunId = sample.get("LOCAL")!.flowRunId;
  for (const concurrency of settings.concurrencies) {
    b.progress(`ceilings for reads, ${concurrency} at once`);
    const trivial = await warmAndMeasure(b, b.apolloUrl, concurrency, () =>
      roundRobin([JSON.stringify({ query: "{ ok }" })]),
    );
    apollo.set(concurrency, trivial.perSecond);
    rows.push({
      section: "read",
      what: "Apollo Server, one trivial field (ceiling)",
      concurrency,
      value: trivial.perSecond,
      unit: "req/s",
      ...loadFigures(trivial),
    });
    const withPg = await warmAndMeasure(b, b.apolloUrl, concurrency, () =>
      roundRobin(
        ids.map((id) => JSON.stringify({ query: "query($id: ID!) { handle(taskRunId: $id) }", variables: { id } })),
      ),
    );
    apolloPg.set(concurrency, withPg.perSecond);
    rows.push({
      section: "read",
      what: "Apollo Server + one pg SELECT by key (ceiling)",
      concurrency,
      value: withPg.perSecond,
      unit: "req/s",
      sqlPerRequest: 1,
      ...loadFigures(withPg),
    });
    const typename = await warmAndMeasure(b, api.url, concurrency, () =>
      roundRobin([JSON.stringify({ query: "{ __typename }" })]),
    );
    rows.push({
      section: "read",
      what: "API, { __typename }",
      concurrency,
      value: typename.perSecond,
      unit: "req/s",
      ...loadFigures(typename),
      ...against(typename.perSecond, { what: "Apollo", value: trivial.perSecond }),
    });
    let n = 0;
    const single = await pgLoad(b.pool, concurrency, settings.seconds, (client) =>
      client.query(TASK_RUN_RESULT_SQL, [ids[n++ % ids.length]]),
    );
    rows.push({
      section: "read",
      what: "pg SELECT of one result (ceiling)",
      concurrency,
      value: single.perSecond,
      unit: "req/s",
      sqlPerRequest: 1,
      ...loadFigures(single),
    });
    const flowRunId = sample.get("JSON")!.flowRunId;
    const whole = await pgLoad(b.pool, concurrency, settings.seconds, (client) =>
      client.query(FLOW_RUN_RESULTS_SQL, [flowRunId]),
    );
    pgFlowRun.set(concurrency, whole.perSecond);
    rows.push({
      section: "read",
      what: `pg SELECT of a flow run's ${FLOW_RUN_TASKS} results (ceiling)`,
      concurrency,
      value: whole.perSecond,
      unit: "req/s",
      sqlPerRequest: 1,
      ...loadFigures(whole),
    });
    // What a GraphQL server on the same framework does at least for the same document: that
    // SELECT, then its 100 task runs completed and serialised, each value parsed from its handle.
    const apolloWhole = await warmAndMeasure(b, b.apolloUrl, concurrency, () =>
      roundRobin([JSON.stringify({ query: FLOW_RUN_QUERY, variables: { id: flowRunId } })]),
    );
    apolloFlowRun.set(`JSON:${concurrency}`, apolloWhole.perSecond);
    rows.push({
      section: "read",
      what: `Apollo Server + one pg SELECT, a flow run's ${FLOW_RUN_TASKS} JSON values (ceiling)`,
      concurrency,
      value: apolloWhole.perSecond,
      unit: "req/s",
      sqlPerRequest: 1,
      ...loadFigures(apolloWhole),
      ...against(apolloWhole.perSecond, { what: "pg", value: whole.perSecond }),
    });
    // The LOCAL flow run's ceiling: the same SELECT, then the 100 files read with fs, as any
    // server of those values must at least do; one after another with the calls that block, the
    // fastest way to read small files on two cores (0.35 ms for 100 here, against 3.7 ms through
    // libuv's pool, a trip for each of open, fstat, read and close).
    const withFiles = await pgLoad(b.pool, concurrency, settings.seconds, async (client) => {
      const { rows: results } = await client.query<{ handle: string }>(FLOW_RUN_RESULTS_SQL, [localFlowRunId]);
      for (const result of results) readFileSync(result.handle);
    });
    pgFsFlowRun.set(concurrency, withFiles.perSecond);
    rows.push({
      section: "read",
      what: `pg SELECT + fs reads of a flow run's ${FLOW_RUN_TASKS} LOCAL results (ceiling)`,
      concurrency,
      value: withFiles.perSecond,
      unit: "req/s",
      sqlPerRequest: 1,
      ...loadFigures(withFiles),
    });
    // And for LOCAL values: the SELECT, the 100 files read, and the same document answered.
    const apolloFiles = await warmAndMeasure(b, b.apolloUrl, concurrency, () =>
      roundRobin([JSON.stringify({ query: FLOW_RUN_QUERY, variables: { id: localFlowRunId } })]),
    );
    apolloFlowRun.set(`LOCAL:${concurrency}`, apolloFiles.perSecond);
    rows.push({
      section: "read",
      what: `Apollo Server + one pg SELECT + fs reads, a flow run's ${FLOW_RUN_TASKS} LOCAL values (ceiling)`,
      concurrency,
      value: apolloFiles.perSecond,
      unit: "req/s",
      sqlPerRequest: 1,
      ...loadFigures(apolloFiles),
      ...against(apolloFiles.perSecond, { what: "pg + fs", value: withFiles.perSecond }),
    });
  }

  for (const handler of HANDLERS(b)) {
    const { flowRunId, small, taskRunIds } = sample.get(handler.name)!;
    const one = taskRunIds.map((id) => JSON.stringify({ query: TASK_RUN_QUERY, variables: { id } }));
    const readOne = async () => api.post(one[0]!);
    const sqlOne = await api.statementsPer(settings.sequential, readOne);
    const flowRunBody = JSON.stringify({ query: FLOW_RUN_QUERY, variables: { id: flowRunId } });
    const sqlWhole = await api.statementsPer(settings.sequential, () => api.post(flowRunBody));
    const sqlSmall = await api.statementsPer(settings.sequential, () => api.request(FLOW_RUN_QUERY, { id: small }));
    for (const concurrency of settings.concurrencies) {
      b.progress(`reads ${handler.name}, ${concurrency} at once`);
      const load = await warmAndMeasure(b, api.url, concurrency, () => roundRobin(one));
      rows.push({
        section: "read",
        what: "API taskRun result value",
        handler: handler.name,
        concurrency,
        value: load.perSecond,
        unit: "req/s",
        sqlPerRequest: sqlOne,
        ...loadFigures(load),
        ...against(load.perSecond, { what: "Apollo", value: apollo.get(concurrency)! }, 0.5),
        note: `against Apollo + one pg SELECT by key: ${(load.perSecond / apolloPg.get(concurrency)!).toFixed(2)} at ${concurrency} at once`,
      });
      const whole = await warmAndMeasure(b, api.url, concurrency, () => roundRobin([flowRunBody]));
      rows.push({
        section: "read",
        what: `API flowRun, ${FLOW_RUN_TASKS} task runs with values`,
        handler: handler.name,
        concurrency,
        value: whole.perSecond,
        unit: "req/s",
        sqlPerRequest: sqlWhole,
        ...loadFigures(whole),
        // LOCAL values are held against the SELECT and the file reads they need; JSON ones are in the rows.
        ...(handler.name === "LOCAL"
          ? against(whole.perSecond, { what: "pg + fs", value: pgFsFlowRun.get(concurrency)! }, 0.5)
          : against(whole.perSecond, { what: "pg", value: pgFlowRun.get(concurrency)! }, 0.5)),
        note: [
          `SQL statements per request: ${sqlSmall} for a flow run of 10 task runs, ${sqlWhole} for ${FLOW_RUN_TASKS}${sqlWhole === sqlSmall ? " (constant)" : " (NOT constant)"}.`,
          `Against Apollo + one pg SELECT${handler.name === "LOCAL" ? " + fs reads" : ""} answering the same document: ${(whole.perSecond / apolloFlowRun.get(`${handler.name}:${concurrency}`)!).toFixed(2)} at ${concurrency} at once.`,
        ].join(" "),
      });
    }
  }
  return rows;
}

/** One large value through the LOCAL and S3 handlers, against writing its bytes directly. */
export async function largeValueRows(b: Bench): Promise<Row[]> {
  const { api, settings } = b;
  const rows: Row[] = [];
  const value = valueOfSize(settings.largeBytes);
  const bytes = Buffer.from(JSON.stringify(value));
  const mb = bytes.length / 1e6;
  const label = `${mb.toFixed(0)} MB value`;
  await mkdir(b.rawDir, { recursive: true });
  const raw = {
    LOCAL: {
      what: "fs.writeFile",
      ms: await medianTime(settings.largeRepeats, (i) => writeFile(join(b.rawDir, `raw-${i}.json`), bytes)),
    },
    S3: { what: "raw PutObject", ms: await medianTime(settings.largeRepeats, (i) => b.s3.put(`raw/${i}.json`, bytes)) },
  };
  for (const handler of [
    { name: "LOCAL" as const, spec: { type: "LOCAL", dir: b.resultsDir } },
    { name: "S3" as const, spec: { type: "S3", bucket: b.s3.bucket } },
  ]) {
    b.progress(`${label} through ${handler.name}`);
    const [run] = await api.createFlowRuns(await api.createFlow(`large-${handler.name}`, handler.spec, 1), 1);
    const slot = run!.slot;
    const send = async () => {
      await api.post(setStatesBody(slot, () => value));
      slot.version++;
    };
    await send(); // warm-up: the first request also loads code the later ones share
    let growth = 0;
    const took: number[] = [];
    for (let i = 0; i < settings.largeRepeats; i++) {
      await resetPeakRss(b.apiPid);
      const before = await readRss(b.apiPid);
      const t0 = performance.now();
      await send();
      took.push(performance.now() - t0);
      growth = Math.max(growth, (await readRss(b.apiPid)).peak - before.current);
    }
    const ms = took.sort((x, y) => x - y)[Math.floor(took.length / 2)]!;
    const ceiling = { what: raw[handler.name].what, value: mb / (raw[handler.name].ms / 1000) };
    const perSecond = mb / (ms / 1000);
    rows.push({
      section: "large",
      what: `API setTaskRunStates, one ${label}`,
      handler: handler.name,
      value: perSecond,
      unit: "MB/s",
      p50: ms,
      ...against(perSecond, ceiling, 0.77),
      note: `${ms.toFixed(0)} ms a request against ${raw[handler.name].ms.toFixed(0)} ms for ${raw[handler.name].what} of the same bytes (target: within 1.3×, ratio ≥ 0.77).`,
    });
    const times = growth / bytes.length;
    rows.push({
      section: "large",
      what: `API server peak RSS growth, one ${label}`,
      handler: handler.name,
      value: growth / 1e6,
      unit: "MB",
      ratio: times,
      target: "< 3× value",
      met: times < 3,
      note: "lower is better: the ratio is the growth over the value's size.",
    });
  }
  // The path for large data: the client writes it to the store itself and the API records only
  // the handle (a pre-handled result), so the value never crosses GraphQL as JSON.
  b.progress(`${label} written by the client to S3, handle recorded by the API`);
  const [run] = await api.createFlowRuns(
    await api.createFlow("large-pre-handled", { type: "S3", bucket: b.s3.bucket }, 1),
    1,
  );
  const slot = run!.slot;
  const ms = await medianTime(settings.largeRepeats, async (i) => {
    const key = `pre-handled/${i}.json`;
    await b.s3.put(key, bytes);
    const input = [
      {
        taskRunId: slot.taskRunIds[0],
        version: slot.version,
        state: {
          type: "SUCCESS",
          result: { handled: { handler: { type: "S3", bucket: b.s3.bucket }, handle: `s3://${b.s3.bucket}/${key}` } },
        },
      },
    ];
    await api.request(SET_STATES, { input });
    slot.version++;
  });
  const perSecond = mb / (ms / 1000);
  rows.push({
    section: "large",
    what: `Client PutObject + API records the handle, one ${label}`,
    handler: "S3",
    value: perSecond,
    unit: "MB/s",
    p50: ms,
    ...against(perSecond, { what: raw.S3.what, value: mb / (raw.S3.ms / 1000) }, 0.77),
    note: `${ms.toFixed(0)} ms for the client's PutObject and the API's setTaskRunStates with the handle, against ${raw.S3.ms.toFixed(0)} ms for the PutObject alone.`,
  });
  return rows;
}
