// Handler benchmark: throughput of small values through every handler, and the memory an S3
// upload of a large value costs. Prints figures; asserts nothing. Run: npm run bench
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort } from "../src/db/embedded-postgres.js";
import { createGcsHandler } from "../src/results/handlers/gcs.js";
import { createJsonHandler } from "../src/results/handlers/json.js";
import { createLocalHandler } from "../src/results/handlers/local.js";
import { createS3Handler } from "../src/results/handlers/s3.js";
import type { ResultHandler } from "../src/results/result-handler.js";
import { startGcsEmulator } from "../test/support/emulators.js";

const SMALL_COUNT = Number(process.env.BENCH_COUNT ?? 300);
const LARGE_MB = Number(process.env.BENCH_LARGE_MB ?? 50);
const MiB = 1024 * 1024;

/** The S3 emulator in its own process, so its storage does not count in our memory figures. */
async function startS3Process(): Promise<{ endpoint: string; child: ChildProcess }> {
  const port = await freePort();
  // fauxqs exports only ESM entry points; its CLI is the file beside the main one.
  const cli = fileURLToPath(new URL("./cli.js", import.meta.resolve("fauxqs")));
  const child = spawn(process.execPath, [cli], {
    env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_HOST: "127.0.0.1", FAUXQS_LOGGER: "false" },
    stdio: "ignore",
  });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(endpoint).then(() => true, () => false)) return { endpoint, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the S3 emulator did not start");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function throughput(name: string, handler: ResultHandler) {
  const value = Buffer.from(JSON.stringify({ id: 0, payload: "x".repeat(1000) }));
  const handles: string[] = [];
  const writes: number[] = [];
  const start = performance.now();
  for (let i = 0; i < SMALL_COUNT; i++) {
    const t0 = performance.now();
    handles.push(await handler.write(value));
    writes.push(performance.now() - t0);
  }
  const writeSeconds = (performance.now() - start) / 1000;
  const reads: number[] = [];
  const readStart = performance.now();
  for (const handle of handles) {
    const t0 = performance.now();
    await handler.read(handle);
    reads.push(performance.now() - t0);
  }
  const readSeconds = (performance.now() - readStart) / 1000;
  writes.sort((a, b) => a - b);
  reads.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(6)} write ${(SMALL_COUNT / writeSeconds).toFixed(0).padStart(6)}/s  p50 ${percentile(writes, 50).toFixed(2)} ms  p99 ${percentile(writes, 99).toFixed(2)} ms` +
      ` | read ${(SMALL_COUNT / readSeconds).toFixed(0).padStart(6)}/s  p50 ${percentile(reads, 50).toFixed(2)} ms  p99 ${percentile(reads, 99).toFixed(2)} ms`,
  );
}

/**
 * Peak memory above the starting point while `work` runs. `allocated` samples every 2 ms and
 * so counts garbage not yet collected; `live` collects garbage before each sample (every 5 ms),
 * so it counts only what the work still holds.
 */
async function peakMemory(work: () => Promise<unknown>): Promise<{ allocated: number; live: number; seconds: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc");
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  gc();
  const base = used();
  let allocated = 0;
  let live = 0;
  const fast = setInterval(() => (allocated = Math.max(allocated, used() - base)), 2);
  const collected = setInterval(() => {
    gc();
    live = Math.max(live, used() - base);
  }, 5);
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  clearInterval(fast);
  clearInterval(collected);
  // One last sample, for work that finished between two (what it returned is still held).
  allocated = Math.max(allocated, used() - base);
  gc();
  live = Math.max(live, used() - base);
  return { allocated, live, seconds };
}

const dir = await mkdtemp(join(tmpdir(), "handled-bench-"));
const s3 = await startS3Process();
const gcs = await startGcsEmulator("handled-bench");
const client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "bench", secretAccessKey: "bench" } });
try {
  await client.send(new CreateBucketCommand({ Bucket: "bench" }));
  console.log(`Throughput: ${SMALL_COUNT} sequential writes then reads of a 1 KiB value (emulators on loopback; compare handlers within one run)`);
  await throughput("JSON", createJsonHandler({ maxBytes: MiB }));
  await throughput("LOCAL", createLocalHandler({ dir: join(dir, "results"), allowedDirs: [dir] }));
  await throughput("S3", createS3Handler({ bucket: "bench", client }));
  await throughput("GCS", createGcsHandler({ bucket: "bench", storage: gcs.storage }));

  // The value as the service holds it while writing: the UTF-8 bytes of its JSON text.
  const json = Buffer.from(JSON.stringify({ blob: "0123456789abcdef".repeat((LARGE_MB * 1000 * 1000) / 16) }));
  const size = json.length;
  console.log(
    `\nMemory of one S3 upload of a ${(size / 1e6).toFixed(1)} MB value already in memory: peak heap + buffers above start` +
      ` (the emulator runs in another process)`,
  );
  const handler = createS3Handler({ bucket: "bench", client, partSize: 8 * MiB });
  const parts = await peakMemory(() => handler.write(json));
  const smallParts = await peakMemory(() => createS3Handler({ bucket: "bench", client, partSize: 5 * MiB }).write(json));
  // What a second, whole copy of the value costs: the floor of any upload that buffers it.
  // (A single PutObject of it is not measured: the emulator takes bodies up to 11 MiB only.)
  let copy: Buffer | undefined;
  const whole = await peakMemory(async () => {
    copy = Buffer.from(json); // a copy of the bytes
  });
  if (copy?.length !== size) throw new Error("copy size");
  const report = (name: string, m: { allocated: number; live: number; seconds: number }) =>
    console.log(
      `${name.padEnd(30)} live ${(m.live / MiB).toFixed(1).padStart(6)} MiB (${(m.live / size).toFixed(2)}× value)` +
        `  allocated ${(m.allocated / MiB).toFixed(1).padStart(6)} MiB  ${m.seconds.toFixed(2)} s`,
    );
  report("S3 handler (8 MiB parts)", parts);
  report("S3 handler (5 MiB parts)", smallParts);
  report("one whole copy of the value", whole);
} finally {
  client.destroy();
  s3.child.kill();
  await gcs.stop();
  await rm(dir, { recursive: true, force: true });
}
