import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** The service's Prometheus metrics, served at GET /metrics. */
export interface Metrics {
  registry: Registry;
  /** Every SQL statement sent to PostgreSQL, transaction control included. */
  sqlStatements: Counter;
  /** GraphQL requests, by operation name and outcome (ok, or the first error code). */
  requestDuration: Histogram<"operation" | "outcome">;
  /** Result handler calls, by handler type, call (read, write, ...) and outcome. */
  handlerDuration: Histogram<"handler" | "call" | "outcome">;
  /** Bytes read and written through result handlers, by handler type and call. */
  handlerBytes: Counter<"handler" | "call">;
  /** Failed result handler calls, by handler type, call and error code. */
  handlerErrors: Counter<"handler" | "call" | "code">;
  /** Stored objects deleted (a run or flow deleted, a sweep), and their bytes, by handler type. */
  reclaimedObjects: Counter<"handler">;
  reclaimedBytes: Counter<"handler">;
  /**
   * The label for an operation name: the name itself for the first `maxOperations` names seen,
   * "other" after that, so that clients cannot grow the metrics without bound.
   */
  operationLabel(name: string | undefined): string;
}

/** The connection pool's numbers, read when /metrics is scraped. */
export interface PoolStats {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** Seconds, from a millisecond of a trivial request to a minute of a large upload. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * A registry of its own per service (not prom-client's global one), so several services in one
 * process, as in the tests, count apart. Process metrics (memory, CPU, event-loop lag) are
 * collected into it too.
 */
export function createMetrics(options: {
  maxOperations: number;
  pool?: () => PoolStats | undefined;
  /** Live updates' numbers, read when /metrics is scraped. */
  live?: () => { subscriptions: number; listening: boolean } | undefined;
}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const sqlStatements = new Counter({
    name: "handled_sql_statements_total",
    help: "SQL statements sent to PostgreSQL, transaction control included.",
    registers,
  });
  const requestDuration = new Histogram({
    name: "handled_graphql_request_duration_seconds",
    help: "GraphQL requests, from the first byte of the request to the last of the response, by operation name and outcome (ok, or the first error code).",
    labelNames: ["operation", "outcome"] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const handlerDuration = new Histogram({
    name: "handled_handler_duration_seconds",
    help: "Result handler calls (read, write, ...), by handler type and outcome (ok, or the error code).",
    labelNames: ["handler", "call", "outcome"] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const handlerBytes = new Counter({
    name: "handled_handler_bytes_total",
    help: "Bytes read and written through result handlers, by handler type and call.",
    labelNames: ["handler", "call"] as const,
    registers,
  });
  const handlerErrors = new Counter({
    name: "handled_handler_errors_total",
    help: "Failed result handler calls, by handler type, call and error code.",
    labelNames: ["handler", "call", "code"] as const,
    registers,
  });
  const reclaimedObjects = new Counter({
    name: "handled_storage_reclaimed_objects_total",
    help: 'Stored objects deleted because no result points at them any more, by handler type (failures: handled_handler_errors_total{call="delete"}).',
    labelNames: ["handler"] as const,
    registers,
  });
  const reclaimedBytes = new Counter({
    name: "handled_storage_reclaimed_bytes_total",
    help: "Bytes of the stored objects deleted, by handler type.",
    labelNames: ["handler"] as const,
    registers,
  });
  /** A gauge read when /metrics is scraped; left as it was when `read` has nothing to say. */
  const readGauge = (name: string, help: string, read: () => number | undefined) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  const poolGauge = (name: string, help: string, pick: (stats: PoolStats) => number) =>
    readGauge(name, help, () => {
      const stats = options.pool?.();
      return stats && pick(stats);
    });
  poolGauge("handled_db_pool_connections", "Connections the PostgreSQL pool holds open.", (s) => s.totalCount);
  poolGauge("handled_db_pool_idle_connections", "Open connections of the pool not in use.", (s) => s.idleCount);
  poolGauge("handled_db_pool_waiting_requests", "Queries waiting for a connection of the pool.", (s) => s.waitingCount);
  readGauge(
    "handled_subscriptions",
    "Subscriptions (live updates) this replica streams now.",
    () => options.live?.()?.subscriptions,
  );
  readGauge(
    "handled_live_listener_up",
    "1 while this replica listens for other replicas' changes (PostgreSQL LISTEN), 0 while it reconnects.",
    () => {
      const live = options.live?.();
      return live && (live.listening ? 1 : 0);
    },
  );

  const operations = new Set<string>();
  function operationLabel(name: string | undefined): string {
    if (!name) return "anonymous";
    name = name.slice(0, 100);
    if (operations.has(name)) return name;
    if (operations.size >= options.maxOperations) return "other";
    operations.add(name);
    return name;
  }
  return {
    registry,
    sqlStatements,
    requestDuration,
    handlerDuration,
    handlerBytes,
    handlerErrors,
    reclaimedObjects,
    reclaimedBytes,
    operationLabel,
  };
}
