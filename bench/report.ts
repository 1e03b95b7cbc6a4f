// The benchmark's one table: each figure beside its ceiling and the ratio between them.
import { writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";

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
