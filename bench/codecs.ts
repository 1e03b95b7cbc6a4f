// What codecs cost on the write path: one value through the API with each combination of codecs,
// against the same write without any, with how much smaller compression makes it.

import { setStatesBody } from "./api.js";
import { medianTime } from "./load.js";
import type { Row } from "./report.js";
import type { Bench } from "./scenarios.js";

/** The codec combinations measured, each against none. */
const COMBINATIONS: string[][] = [[], ["GZIP"], ["ZSTD"], ["AES_256_GCM"], ["ZSTD", "AES_256_GCM"]];

/**
 * A value whose JSON text is about `bytes` long, of records as a task might return: ids, times,
 * names, numbers and tags from a fixed pseudo-random sequence, so it compresses as such data
 * does (not as one repeated string would).
 */
export function recordsOfSize(
  bytes: number,
): { id: number; at: string; user: string; score: number; tags: string[] }[] {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta", "lambda", "zeta"];
  const records = [];
  let size = 2;
  for (let id = 0; size < bytes; id++) {
    const record = {
      id,
      at: new Date(1_700_000_000_000 + Math.floor(next() * 1e10)).toISOString(),
      user: `user-${Math.floor(next() * 1e6).toString(36)}`,
      score: Math.round(next() * 1e6) / 1e3,
      tags: Array.from({ length: 1 + Math.floor(next() * 3) }, () => words[Math.floor(next() * words.length)]!),
    };
    size += JSON.stringify(record).length + 1;
    records.push(record);
  }
  return records;
}

const STORED = `
  SELECT r.size_bytes::float8 AS size, coalesce(r.stored_bytes, r.size_bytes)::float8 AS stored, r.codecs
  FROM state s JOIN result r ON r.id = s.result_id
  WHERE s.task_run_id = $1 ORDER BY s.version DESC LIMIT 1`;

export async function codecRows(b: Bench): Promise<Row[]> {
  const { api, settings } = b;
  const rows: Row[] = [];
  const sizes = [
    { label: "1 KB", bytes: 1_000, repeats: Math.max(settings.sequential * 5, 10) },
    {
      label: `${(settings.largeBytes / 1e6).toFixed(0)} MB`,
      bytes: settings.largeBytes,
      repeats: settings.largeRepeats,
    },
  ];
  for (const size of sizes) {
    const value = recordsOfSize(size.bytes);
    let none: { ms: number; what: string } | undefined;
    for (const codecs of COMBINATIONS) {
      const name = codecs.length ? codecs.join("+") : "no codec";
      b.progress(`codecs: ${size.label} value, ${name}`);
      const flowId = await api.createFlow(
        `codecs-${size.label}-${name}`,
        { type: "LOCAL", dir: b.resultsDir, codecs },
        1,
      );
      const [run] = await api.createFlowRuns(flowId, 1);
      const slot = run!.slot;
      const send = async () => {
        await api.post(setStatesBody(slot, () => value));
        slot.version++;
      };
      await send(); // warm-up
      const ms = await medianTime(size.repeats, send);
      const { rows: stored } = await b.pool.query<{ size: number; stored: number; codecs: string[] }>(STORED, [
        slot.taskRunIds[0],
      ]);
      const { size: jsonBytes, stored: storedBytes, codecs: applied } = stored[0]!;
      const mbPerSecond = jsonBytes / 1e6 / (ms / 1000);
      const perSecond = size.bytes >= 1e6 ? mbPerSecond : 1000 / ms;
      const unit = size.bytes >= 1e6 ? "MB/s" : "writes/s";
      none ??= { ms, what: "the same write, no codec" };
      const ceiling = codecs.length
        ? { what: none.what, value: size.bytes >= 1e6 ? jsonBytes / 1e6 / (none.ms / 1000) : 1000 / none.ms }
        : undefined;
      rows.push({
        section: "codecs",
        what: `API setTaskRunStates, one ${size.label} value, ${name}`,
        handler: "LOCAL",
        value: perSecond,
        unit,
        p50: ms,
        ...(ceiling ? { ceiling, ratio: perSecond / ceiling.value } : {}),
        note: codecs.length
          ? `${ms.toFixed(1)} ms a write against ${none.ms.toFixed(1)} ms without codecs (${(((ms - none.ms) / none.ms) * 100).toFixed(0)} %); stored ${storedBytes} bytes for ${jsonBytes} of JSON (${((storedBytes / jsonBytes) * 100).toFixed(1)} %), codecs applied: ${applied.join("+") || "none"}.`
          : `${ms.toFixed(1)} ms a write; the value is ${jsonBytes} bytes of JSON records.`,
      });
    }
  }
  return rows;
}
