// Load generators: HTTP load with autocannon (from this process, so never from the server's),
// and the same shape of load straight on PostgreSQL with node-postgres.
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import type pg from "pg";
import { type CpuPerOperation, withCpu } from "./cpu.js";

/** What one load run measured. */
export interface LoadResult {
  /** Operations completed (HTTP requests answered, or SQL statements done). */
  operations: number;
  perSecond: number;
  /** Latency percentiles, in milliseconds. */
  p50: number;
  p99: number;
  /** Operations that failed: HTTP errors, non-200 answers, GraphQL errors, SQL errors. */
  errors: number;
  /** What each operation cost in CPU time, process by process (see withCpu). */
  cpu?: CpuPerOperation;
}

/** One request: its JSON body, and what to do when its answer comes (ok: 200 with no errors). */
export interface NextRequest {
  body: string;
  done?: (ok: boolean) => void;
}

/** Headers of every request the benchmark sends to the API (with --auth, its key too). */
export const apiHeaders: Record<string, string> = { "content-type": "application/json" };

/**
 * POSTs `next()` bodies to `url` over `connections` keep-alive connections for `seconds`.
 * Each connection waits for an answer before it sends again.
 */
export async function httpLoad(
  url: string,
  connections: number,
  seconds: number,
  next: () => NextRequest,
): Promise<LoadResult> {
  let failed = 0;
  type Context = { done?: (ok: boolean) => void };
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    headers: apiHeaders,
    requests: [
      {
        method: "POST",
        setupRequest: (request, context) => {
          const { body, done } = next();
          (context as Context).done = done;
          return { ...request, body };
        },
        onResponse: (status, body, context) => {
          const ok = status === 200 && !body.startsWith('{"errors"') && !body.includes('"errors":[');
          if (!ok) failed++;
          (context as Context).done?.(ok);
        },
      },
    ],
  });
  const answered = result.requests.total;
  return {
    operations: answered,
    perSecond: answered / (result.duration || seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: failed + result.errors + result.timeouts,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN;
}

/**
 * Runs `work` on `connections` pooled connections at once, each again as soon as it is done,
 * for `seconds`. `work` gets a worker number, so workers can own separate rows.
 */
export function pgLoad(
  pool: pg.Pool,
  connections: number,
  seconds: number,
  work: (client: pg.PoolClient, worker: number) => Promise<unknown>,
): Promise<LoadResult> {
  return withCpu(undefined, () => runPgLoad(pool, connections, seconds, work));
}

async function runPgLoad(
  pool: pg.Pool,
  connections: number,
  seconds: number,
  work: (client: pg.PoolClient, worker: number) => Promise<unknown>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      const client = await pool.connect();
      try {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          try {
            await work(client, worker);
            latencies.push(performance.now() - t0);
          } catch {
            errors++;
          }
        }
      } finally {
        client.release();
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    operations: latencies.length,
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

/** Times `work` `times` times in a row; returns the median, in milliseconds. */
export async function medianTime(times: number, work: (i: number) => Promise<unknown>): Promise<number> {
  const took: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await work(i);
    took.push(performance.now() - t0);
  }
  took.sort((a, b) => a - b);
  return percentile(took, 50);
}
