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
