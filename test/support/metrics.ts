import type { TestApp } from "./app.js";

/** SQL statements the service has sent, from its /metrics (reading which sends none). */
export async function statementsSent(t: TestApp): Promise<number> {
  const text = await (await fetch(t.app.url.replace(/\/graphql$/, "/metrics"))).text();
  return Number(/^handled_sql_statements_total (\d+)$/m.exec(text)?.[1]);
}

/** SQL statements `work` costs the service. Only meaningful while nothing else calls it. */
export async function statementsOf(t: TestApp, work: () => Promise<unknown>): Promise<number> {
  const before = await statementsSent(t);
  await work();
  return (await statementsSent(t)) - before;
}
