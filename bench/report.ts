// The benchmark's one table: each figure beside its ceiling and the ratio between them.
import { writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import type { CpuPerOperation } from "./cpu.js";

/** One measured figure. Higher is better for every figure and ratio but memory growth. */
export interface Row {
  section: "write" | "read" | "large" | "codecs" | "transfers";
  /** What ran, e.g. "API setTaskRunStates" or "pg multi-row INSERT (ceiling)". */
  what: string;
  handler?: string;
  /** States per request (writes). */
  batch?: number;
  /** Connections at once. */
  concurrency?: number;
  value: number;
  /** e.g. "states/s", "req/s", "MB/s". */
  unit: string;
  p50?: number;
  p99?: number;
  /** SQL statements per request, counted by the server. */
  sqlPerRequest?: number;
  /** The ceiling this figure is held against, and the ratio value / ceiling. */
  ceiling?: { what: string; value: number };
  ratio?: number;
  /** The ratio the project aims at, and whether it is met. */
  target?: string;
  met?: boolean;
  errors?: number;
  /** CPU time per operation, by process (see bench/cpu.ts). */
  cpu?: CpuPerOperation;
  note?: string;
}

/** Where and how a run ran. */
export interface Machine {
  date: string;
  cpus: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  mode: "full" | "quick";
}

export function describeMachine(postgres: string, mode: Machine["mode"]): Machine {
  const cores = cpus();
  return {
    date: new Date().toISOString(),
    cpus: `${cores.length} × ${cores[0]?.model.trim() ?? "unknown"}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
    mode,
  };
}

const fixed = (n: number | undefined, digits: number) => (n === undefined || Number.isNaN(n) ? "" : n.toFixed(digits));

function figure(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** "3.1 + 4.2 + 0.5", a part left blank where it was not measured (no server; PostgreSQL elsewhere). */
function cpuCell(cpu: CpuPerOperation | undefined): string {
  if (!cpu) return "";
  return [cpu.server, cpu.postgres, cpu.load].map((ms) => (ms === undefined ? "–" : ms.toFixed(2))).join(" + ");
}

/** The rows as one Markdown table (it reads as plain text too). */
export function markdownTable(rows: readonly Row[]): string {
  const header = [
    "Measure",
    "Handler",
    "Batch",
    "Conc.",
    "Figure",
    "p50 ms",
    "p99 ms",
    "SQL/req",
    "CPU ms/req: server + pg + load",
    "Ceiling",
    "Ratio",
    "Target",
  ];
  const lines = rows.map((r) => [
    r.what,
    r.handler ?? "",
    r.batch?.toString() ?? "",
    r.concurrency?.toString() ?? "",
    `${figure(r.value)} ${r.unit}${r.errors ? ` (${r.errors} errors)` : ""}`,
    fixed(r.p50, 1),
    fixed(r.p99, 1),
    fixed(r.sqlPerRequest, 1),
    cpuCell(r.cpu),
    r.ceiling ? `${figure(r.ceiling.value)} (${r.ceiling.what})` : "",
    r.ratio === undefined ? "" : r.ratio.toFixed(2),
    r.target ? `${r.target} ${r.met ? "✓" : "✗"}` : "",
  ]);
  const table = [header, header.map(() => "---"), ...lines].map((cells) => `| ${cells.join(" | ")} |`);
  const notes = [
    ...new Set(rows.filter((r) => r.note).map((r) => `- ${r.what}${r.handler ? ` (${r.handler})` : ""}: ${r.note}`)),
  ];
  return [...table, ...(notes.length ? ["", ...notes] : [])].join("\n");
}

export async function writeJson(file: string, machine: Machine, rows: readonly Row[]): Promise<void> {
  await writeFile(file, `${JSON.stringify({ machine, rows }, null, 2)}\n`);
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/**
 * Whether a row meets its target as the rows write it: its ratio for "≥ 0.5" and "< 3× value",
 * its figure for "< 32 MB". Undefined for others, and for a ratio target without a ratio.
 */
function meets(target: string, ratio: number | undefined, value: number): boolean | undefined {
  const atLeast = /^≥ ([\d.]+)$/.exec(target);
  if (atLeast && ratio !== undefined) return ratio >= Number(atLeast[1]);
  const below = /^< ([\d.]+)× value$/.exec(target);
  if (below && ratio !== undefined) return ratio < Number(below[1]);
  const under = /^< ([\d.]+) MB$/.exec(target);
  if (under) return value < Number(under[1]);
  return undefined;
}

/** Each part of the CPU time per operation: the median of the runs that measured it. */
function mergeCpu(pick: (read: (r: Row) => number | undefined) => number | undefined): CpuPerOperation {
  const server = pick((r) => r.cpu?.server);
  const postgres = pick((r) => r.cpu?.postgres);
  return {
    load: pick((r) => r.cpu?.load) ?? Number.NaN,
    ...(server === undefined ? {} : { server }),
    ...(postgres === undefined ? {} : { postgres }),
  };
}

/**
 * The rows of several runs of the same sections as one: each figure, latency, ceiling and ratio
 * the median of its runs' (a ratio is taken within its own run, against that run's ceiling), and
 * the range of the ratio in a note. Rows are matched by what, handler, batch and concurrency.
 */
export function mergeRuns(runs: readonly (readonly Row[])[]): Row[] {
  if (runs.length === 1) return [...runs[0]!];
  const key = (r: Row) => [r.section, r.what, r.handler, r.batch, r.concurrency].join("|");
  const groups = new Map<string, Row[]>();
  for (const run of runs) {
    for (const row of run) {
      const group = groups.get(key(row)) ?? [];
      group.push(row);
      groups.set(key(row), group);
    }
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const pick = (read: (r: Row) => number | undefined) => {
      const values = group.map(read).filter((v): v is number => v !== undefined && !Number.isNaN(v));
      return values.length ? median(values) : undefined;
    };
    const ratios = group.map((r) => r.ratio).filter((v): v is number => v !== undefined);
    const ratio = pick((r) => r.ratio);
    const value = pick((r) => r.value)!;
    // The median's, like the figures; a target this cannot read is met when every run met it.
    const met = first.target ? (meets(first.target, ratio, value) ?? group.every((r) => r.met)) : first.met;
    const values = group.map((r) => r.value);
    const range =
      ratios.length > 1
        ? `ratio ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} over ${group.length} runs`
        : first.target && ratio === undefined && values.length > 1
          ? `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)} ${first.unit} over ${group.length} runs`
          : "";
    return {
      ...first,
      value,
      p50: pick((r) => r.p50),
      p99: pick((r) => r.p99),
      sqlPerRequest: pick((r) => r.sqlPerRequest),
      ...(first.cpu ? { cpu: mergeCpu(pick) } : {}),
      ...(first.ceiling ? { ceiling: { what: first.ceiling.what, value: pick((r) => r.ceiling?.value)! } } : {}),
      ratio,
      met,
      errors: group.reduce((sum, r) => sum + (r.errors ?? 0), 0) || undefined,
      note: [range, first.note].filter(Boolean).join("; ") || undefined,
    };
  });
}
