import { Counter, Registry, collectDefaultMetrics } from "prom-client";
/**
 * A registry of its own per service (not prom-client's global one), so several services in one
 * process, as in the tests, count apart. Process metrics (memory, CPU, event-loop lag) are
 * collected into it too.
 */
export function createMetrics() {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const sqlStatements = new Counter({
        name: "handled_sql_statements_total",
        help: "SQL statements sent to PostgreSQL, transaction control included.",
        registers: [registry],
    });
    return { registry, sqlStatements };
}
//# sourceMappingURL=metrics.js.map