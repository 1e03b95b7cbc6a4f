import type { TestApp } from "./app.js";

/** The service's /metrics, as Prometheus text. */
export async function metricsText(t: TestApp): Promise<string> {
  return (await fetch(t.app.url.replace(/\/graphql$/, "/metrics"))).text();
}

/** SQL statements the service has sent, from its /metrics (reading which sends none). */
export async function statementsSent(t: TestApp): Promise<number> {
  const text = await metricsText(t);
  return Number(/^handled_sql_statements_total (\d+)$/m.exec(text)?.[1]);
}

/** SQL statements `work` costs the service. Only meaningful while nothing else calls it. */
export async function statementsOf(t: TestApp, work: () => Promise<unknown>): Promise<number> {
  const before = await statementsSent(t);
  await work();
  return (await statementsSent(t)) - before;
}

/**
 * The value of metric `name` in Prometheus `text`, summed over its series whose labels include
 * `labels` (one series when they name every label); 0 when none does.
 */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  let sum = 0;
  for (const row of text.split("\n")) {
    if (!row.startsWith(`${name}{`)) continue;
    const rowLabels = row.slice(name.length + 1, row.lastIndexOf("}")).split(",");
    if (wanted.every((label) => rowLabels.includes(label))) sum += Number(row.slice(row.lastIndexOf(" ") + 1));
  }
  return sum;
}
