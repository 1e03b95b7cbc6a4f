// The benchmark: how close the API's write and read paths get to the limits below them, in one
// run and one table. It starts the API (and everything it needs) itself, on DATABASE_URL's
// server when set, else on an embedded PostgreSQL. Prints figures; asserts nothing.
//   npm run bench              the full run (about 4 minutes); writes dist-bench/full.json
//   npm run bench -- --update  the full run, recorded in bench/latest.json (for BENCHMARKS.md)
//   npm run bench -- --quick   about a minute, for CI: a smoke test of the benchmark, with
//                              figures too short and noisy to compare; writes dist-bench/quick.json
//   --only=write|read|large|codecs|transfers  one section only (with --quick too)
//   --seconds=N                how long each load runs (full: 3, quick: 0.5)
//   --auth                     the API requires API keys, and every request carries one
//   --repeat=N                 runs the sections N times; each figure and ratio is the median,
//                              with the ratio's range in the notes
// The same thread pool as the API's (16 threads): the LOCAL ceilings read files through it too.
import "../src/threadpool.js";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import pg from "pg";
import { runKeys } from "../src/cli/keys.js";
import { loadEmbeddedPostgres } from "../src/db/database.js";
import { freePort } from "../src/free-port.js";
import { startGcsEmulator } from "../test/support/emulators.js";
import { ApiClient } from "./api.js";
import { codecRows } from "./codecs.js";
import { apiHeaders } from "./load.js";
import { startApi, startApolloCeiling, startS3Emulator } from "./processes.js";
import { describeMachine, markdownTable, mergeRuns, type Row, writeJson } from "./report.js";
import { largeValueRows, readRows, writeRows } from "./scenarios.js";
import { type TransferBench, transferRows } from "./transfers.js";

const quick = process.argv.includes("--quick");
// With --auth, the API requires keys and every request carries one: what checking keys costs.
const auth = process.argv.includes("--auth");
const update = process.argv.includes("--update");
if (update && quick) throw new Error("--update records a full run; it does not go with --quick");
const only = process.argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length);
if (only && !["write", "read", "large", "codecs", "transfers"].includes(only))
  throw new Error(`--only takes write, read, large, codecs or transfers, not "${only}"`);
// Result sizes of the transfer rows, and how many times each path runs (the median is shown).
const transfers = quick ? { sizes: [1_000_000], repeats: 1 } : { sizes: [10_000_000, 100_000_000], repeats: 3 };
const settings: TransferBench["settings"] = quick
  ? { seconds: 0.5, warmupSeconds: 0.2, concurrencies: [4], sequential: 3, largeBytes: 1_000_000, largeRepeats: 1 }
  : {
      seconds: 3,
      warmupSeconds: 1,
      concurrencies: [1, 4, 16],
      sequential: 20,
      largeBytes: 10_000_000,
      largeRepeats: 5,
    };

const repeatArg = process.argv.find((arg) => arg.startsWith("--repeat="));
const repeat = repeatArg ? Number(repeatArg.slice("--repeat=".length)) : 1;
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20)
  throw new Error("--repeat takes a whole number from 1 to 20");

const seconds = process.argv.find((arg) => arg.startsWith("--seconds="));
if (seconds) settings.seconds = Number(seconds.slice("--seconds=".length));

const dir = await mkdtemp(join(tmpdir(), "handled-bench-"));
// Others may pass through (not list) it: as root, the embedded PostgreSQL runs as `postgres`.
await chmod(dir, 0o711);
const stops: (() => Promise<unknown>)[] = [];
try {
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const embedded = await (await loadEmbeddedPostgres()).startEmbeddedPostgres(join(dir, "pg"));
    stops.push(() => embedded.stop());
    serverUrl = embedded.url;
  }
  // A database of its own, dropped at the end, on whichever server.
  const database = `handled_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  stops.push(async () => {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
  });
  const postgres = (await admin.query<{ server_version: string }>("SHOW server_version")).rows[0]!.server_version;
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;

  const s3 = await startS3Emulator();
  stops.push(() => s3.stop());
  const s3Client = new S3Client({
    endpoint: s3.origin,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  stops.push(async () => s3Client.destroy());
  await s3Client.send(new CreateBucketCommand({ Bucket: "bench" }));

  // The GCS emulator, in this process (its storage counts in no one's memory the rows measure),
  // only for the rows that use it: on two cores, an idle emulator beside the load generator still
  // costs the other rows.
  const gcs = !only || only === "transfers" ? await startGcsEmulator("handled-bench") : undefined;
  if (gcs) stops.push(() => gcs.stop());

  const resultsDir = join(dir, "results");
  await mkdir(resultsDir, { recursive: true });
  // /metrics on a port of its own, as deployed (with keys required it is served nowhere else).
  const metricsPort = await freePort();
  const api = await startApi({
    DATABASE_URL: url.toString(),
    HANDLED_METRICS_PORT: String(metricsPort),
    HANDLED_DATA_DIR: join(dir, "data"),
    HANDLED_DEFAULT_HANDLER: "JSON",
    HANDLED_LOCAL_DIRS: resultsDir,
    HANDLED_S3_ENDPOINT: s3.origin,
    HANDLED_S3_FORCE_PATH_STYLE: "true",
    HANDLED_S3_BUCKETS: "bench",
    AWS_CREDENTIALS: JSON.stringify({ ACCESS_KEY: "bench", SECRET_ACCESS_KEY: "bench" }),
    ...(gcs ? { STORAGE_EMULATOR_HOST: gcs.host, ...gcs.env(["bench-gcs"]) } : {}),
    // A key of this run only, for the codec rows.
    HANDLED_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString("base64")}`,
    // The rate limiter counts every request, but never holds the benchmark back.
    ...(auth ? { HANDLED_AUTH: "required", HANDLED_RATE_LIMIT_PER_MINUTE: "10000000" } : { HANDLED_AUTH: "off" }),
  });
  stops.push(() => api.stop());
  if (auth) {
    const printed: string[] = [];
    await runKeys(["create", "--project", "bench", "--scope", "write"], { DATABASE_URL: url.toString() }, (line) =>
      printed.push(line),
    );
    apiHeaders.authorization = `Bearer ${printed.at(-1)}`;
  }
  const apollo = await startApolloCeiling(url.toString(), resultsDir);
  stops.push(() => apollo.stop());
  const pool = new pg.Pool({ connectionString: url.toString(), max: Math.max(...settings.concurrencies) });
  stops.push(() => pool.end());

  const bench: TransferBench = {
    gcs: gcs && { storage: gcs.storage, bucket: "bench-gcs" },
    transfers,
    settings,
    api: new ApiClient(api.origin, `http://127.0.0.1:${metricsPort}`),
    apiPid: api.child.pid!,
    apolloUrl: `${apollo.origin}/`,
    apolloPid: apollo.child.pid!,
    pool,
    resultsDir,
    rawDir: join(dir, "raw"),
    s3: {
      client: s3Client,
      bucket: "bench",
      put: (Key, Body) => s3Client.send(new PutObjectCommand({ Bucket: "bench", Key, Body })),
    },
    progress: (what) => process.stderr.write(`  ${what}\n`),
  };
  console.error(`Benchmark (${quick ? "quick" : "full"}): API ${api.origin}, PostgreSQL ${postgres}`);
  const runs: Row[][] = [];
  for (let round = 1; round <= repeat; round++) {
    if (repeat > 1) console.error(`Round ${round} of ${repeat}`);
    const rows: Row[] = [];
    if (!only || only === "write") rows.push(...(await writeRows(bench)));
    if (!only || only === "read") rows.push(...(await readRows(bench)));
    if (!only || only === "large") rows.push(...(await largeValueRows(bench)));
    if (!only || only === "codecs") rows.push(...(await codecRows(bench)));
    if (!only || only === "transfers") rows.push(...(await transferRows(bench)));
    runs.push(rows);
  }
  const rows = mergeRuns(runs);

  const machine = describeMachine(postgres, quick ? "quick" : "full");
  console.log(
    `\n${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${postgres}, ${machine.mode} run\n`,
  );
  console.log(markdownTable(rows));
  const out =
    update && !only
      ? join("bench", "latest.json")
      : join("dist-bench", `${quick ? "quick" : only ? "partial" : "full"}.json`);
  await writeJson(out, machine, rows);
  console.log(`\nWritten to ${out}.`);
} finally {
  // After the write rows, removing the files they wrote takes a while (about 20 s a round here).
  const started = Date.now();
  console.error("Cleaning up: stopping the servers, dropping the run's database, removing its files...");
  for (const stop of stops.reverse()) await stop().catch((error: unknown) => console.error("cleanup:", error));
  await rm(dir, { recursive: true, force: true });
  console.error(`Cleaned up in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}
