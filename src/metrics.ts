import { Counter, Registry, collectDefaultMetrics } from "prom-client";

/** The service's Prometheus metrics, served at GET /metrics. */
export interface Metrics {
  registry: Registry;
  /** Every SQL statement sent to PostgreSQL, transaction control included. */
  sqlStatements: Counter;
}

/**
 * A registry of its own per service (not prom-client's global one), so several services in one
 * process, as in the tests, count apart. Process metrics (memory, CPU, event-loop lag) are
 * collected into it too.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const sqlStatements = new Counter({
    name: "handled_sql_statements_total",
    help: "SQL statements sent to PostgreSQL, transaction control included.",
    registers: [registry],
  });
  return { registry, sqlStatements };
}
