// Large results beside GraphQL: the same bytes up and down through each path (a prepared upload,
// a body streamed through the API, a download URL), against writing and reading them straight
// to the disk or the store, and the API's peak memory growth while it streams the largest.

import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Storage } from "@google-cloud/storage";
import { medianTime } from "./load.js";
import { readRss, resetPeakRss } from "./processes.js";
import type { Row } from "./report.js";
import type { Bench } from "./scenarios.js";

/** The emulator S3 runs on (fauxqs) takes at most 11 MiB in one request; S3 takes 5 GiB. */
const EMULATOR_REQUEST_BYTES = 11 * 1024 * 1024;
/** The S3 handler's default part size, for the raw multipart upload to compare with. */
const PART_BYTES = 8 * 1024 * 1024;

export interface TransferBench extends Bench {
  /** Started for the transfer rows only. */
  gcs: Gcs | undefined;
  transfers: { sizes: number[]; repeats: number };
}

type Store = "LOCAL" | "S3" | "GCS";
type Gcs = { storage: Storage; bucket: string };

/** The rows of the transfers section. */
export async function transferRows(b: TransferBench): Promise<Row[]> {
  const gcs = b.gcs;
  if (!gcs) throw new Error("the transfer rows need the GCS emulator");
  const rows: Row[] = [];
  for (const size of b.transfers.sizes) {
    const bytes = randomBytes(size);
    for (const store of ["LOCAL", "S3", "GCS"] as Store[]) rows.push(...(await storeRows(b, gcs, store, bytes)));
  }
  return rows;
}

async function storeRows(b: TransferBench, gcs: Gcs, store: Store, bytes: Buffer): Promise<Row[]> {
  const { api } = b;
  const mb = bytes.length / 1e6;
  const label = `${mb.toFixed(0)} MB`;
  const repeats = b.transfers.repeats;
  const spec =
    store === "LOCAL"
      ? { type: "LOCAL", dir: b.resultsDir }
      : store === "S3"
        ? { type: "S3", bucket: b.s3.bucket, prefix: "transfers" }
        : { type: "GCS", bucket: gcs.bucket, prefix: "transfers" };
  const flowId = await api.createFlow(`transfers-${store}-${label}-${Date.now()}`, spec, 1);
  const runs = (await api.createFlowRuns(flowId, 4 * repeats + 2)).map((run) => run.slot.taskRunIds[0]!);
  const nextRun = () => runs.pop()!;
  const handlerInput = JSON.stringify(spec);
  const record = async (taskRunId: string, handle: string) =>
    api.post(
      `{"query":"mutation($input: [SetTaskRunStateInput!]!) { setTaskRunStates(input: $input) { id } }","variables":{"input":[{"taskRunId":"${taskRunId}","version":1,"state":{"type":"SUCCESS","result":{"handled":{"handler":${handlerInput},"handle":${JSON.stringify(handle)}}}}}]}}`,
    );

  // The ceilings: the same bytes straight to the disk or the store, and back.
  await mkdir(b.rawDir, { recursive: true });
  const raw = {
    LOCAL: {
      up: "fs.writeFile",
      put: (i: number) => writeFile(join(b.rawDir, `transfer-${i}`), bytes),
      down: "fs.readFile",
      get: (i: number) => readFile(join(b.rawDir, `transfer-${i}`)),
    },
    S3: {
      up: bytes.length <= EMULATOR_REQUEST_BYTES ? "raw PutObject" : "raw multipart Upload (8 MiB parts)",
      put: (i: number) =>
        bytes.length <= EMULATOR_REQUEST_BYTES
          ? b.s3.client.send(new PutObjectCommand({ Bucket: b.s3.bucket, Key: `raw/transfer-${i}`, Body: bytes }))
          : new Upload({
              client: b.s3.client,
              params: { Bucket: b.s3.bucket, Key: `raw/transfer-${i}`, Body: bytes },
              partSize: PART_BYTES,
              queueSize: 1,
            }).done(),
      down: "raw GetObject",
      get: async (i: number) =>
        (
          await b.s3.client.send(new GetObjectCommand({ Bucket: b.s3.bucket, Key: `raw/transfer-${i}` }))
        ).Body!.transformToByteArray(),
    },
    GCS: {
      up: "raw GCS upload",
      put: (i: number) => gcs.storage.bucket(gcs.bucket).file(`raw/transfer-${i}`).save(bytes, { resumable: false }),
      down: "raw GCS download",
      get: (i: number) => gcs.storage.bucket(gcs.bucket).file(`raw/transfer-${i}`).download(),
    },
  }[store];
  b.progress(`${label} ${store}: ${raw.up}`);
  const rawUp = await medianTime(repeats, raw.put);
  const rawDown = await medianTime(repeats, raw.get);
  const row = (what: string, ms: number, ceilingMs: number, ceiling: string, extra: Partial<Row> = {}): Row => {
    const value = mb / (ms / 1000);
    const ratio = ceilingMs / ms;
    return {
      section: "transfers",
      what: `${what}, ${label}`,
      handler: store,
      value,
      unit: "MB/s",
      p50: ms,
      ceiling: { what: ceiling, value: mb / (ceilingMs / 1000) },
      ratio,
      target: "≥ 0.77",
      met: ratio >= 0.77,
      ...extra,
    };
  };
  const rows: Row[] = [];

  // A prepared upload: ask where, send the bytes there, record the handle.
  if (store === "S3" && bytes.length > EMULATOR_REQUEST_BYTES) {
    b.progress(`${label} ${store}: prepared upload skipped (the emulator takes 11 MiB a request)`);
  } else {
    b.progress(`${label} ${store}: prepared upload`);
    const ms = await medianTime(repeats, async () => {
      const taskRunId = nextRun();
      const { prepareResultUpload: prepared } = await api.request<{
        prepareResultUpload: { url: string; handle: string; headers: { name: string; value: string }[] };
      }>(
        `mutation($id: ID!, $size: SafeInt) { prepareResultUpload(taskRunId: $id, sizeBytes: $size) { url handle headers { name value } } }`,
        { id: taskRunId, size: bytes.length },
      );
      const headers = Object.fromEntries(prepared.headers.map((h) => [h.name, h.value]));
      const sent = await fetch(prepared.url, { method: "PUT", body: bytes, headers });
      if (!sent.ok) throw new Error(`the prepared upload answered ${sent.status}: ${await sent.text()}`);
      await record(taskRunId, prepared.handle);
    });
    rows.push(row("prepared upload (prepare, PUT, record)", ms, rawUp, raw.up));
  }

  // Streamed through the API: one PUT of the raw body, then the record.
  b.progress(`${label} ${store}: PUT /results/<taskRunId>`);
  let growth = 0;
  const downloads: string[] = [];
  const streamed = await medianTime(repeats, async () => {
    const taskRunId = nextRun();
    await resetPeakRss(b.apiPid);
    const before = await readRss(b.apiPid);
    const sent = await fetch(`${api.origin}/results/${taskRunId}`, { method: "PUT", body: bytes });
    if (!sent.ok) throw new Error(`PUT /results answered ${sent.status}: ${await sent.text()}`);
    growth = Math.max(growth, (await readRss(b.apiPid)).peak - before.current);
    await record(taskRunId, ((await sent.json()) as { handle: string }).handle);
    downloads.push(taskRunId);
  });
  rows.push(row("streamed through the API (PUT /results, record)", streamed, rawUp, raw.up));
  b.progress(`${label} ${store}: download URL`);
  const down = await medianTime(repeats, async (i) => {
    const { taskRun } = await api.request<{ taskRun: { state: { result: { downloadUrl: string } } } }>(
      `query($id: ID!) { taskRun(id: $id) { state { result { ... on Result { downloadUrl } } } } }`,
      { id: downloads[i] },
    );
    const got = await fetch(taskRun.state.result.downloadUrl);
    const length = (await got.arrayBuffer()).byteLength;
    if (length !== bytes.length) throw new Error(`the download gave ${length} bytes, not ${bytes.length}`);
  });
  const via =
    store === "S3"
      ? "presigned GET"
      : store === "LOCAL"
        ? "GET /results/<id>"
        : "GET /results/<id>: the emulator's GCS cannot sign";
  rows.push(row(`download URL (ask, then ${via})`, down, rawDown, raw.down));
  rows.push({
    section: "transfers",
    what: `API server peak RSS growth, streamed ${label}`,
    handler: store,
    value: growth / 1e6,
    unit: "MB",
    target: "< 32 MB",
    met: growth < 32e6,
    note: "lower is better: what the server holds while it streams the body to the store.",
  });
  return rows;
}
