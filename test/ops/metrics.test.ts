import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/free-port.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { startRun } from "../support/flows.js";
import { metricValue } from "../support/metrics.js";

// What an orchestrator and Prometheus see: probes, and metrics on a port of their own.

describe("probes and metrics", () => {
  let t: TestApp;
  let metricsPort: number;
  beforeAll(async () => {
    metricsPort = await freePort();
    t = await startTestApp({ HANDLED_METRICS_PORT: String(metricsPort) });
  });
  afterAll(() => t.stop());

  it("answer /livez and /readyz (and /healthz, its alias) while the database answers and is migrated", async () => {
    for (const path of ["/livez", "/readyz", "/healthz"]) {
      const response = await fetch(new URL(path, t.app.url));
      expect([path, response.status, await response.json()]).toEqual([path, 200, { status: "ok" }]);
    }
  });

  it("say not ready when the newest migration is missing, while still alive", async () => {
    const [newest] = await t.sql<{ migration_name: string }>(
      `SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name DESC LIMIT 1`,
    );
    await t.sql(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1`, [
      newest!.migration_name,
    ]);
    try {
      expect((await fetch(new URL("/readyz", t.app.url))).status).toBe(503);
      expect((await fetch(new URL("/livez", t.app.url))).status).toBe(200);
    } finally {
      await t.sql(`UPDATE "_prisma_migrations" SET rolled_back_at = NULL WHERE migration_name = $1`, [
        newest!.migration_name,
      ]);
    }
    expect((await fetch(new URL("/readyz", t.app.url))).status).toBe(200);
  });

  it("serve /metrics on HANDLED_METRICS_PORT only, with requests by operation and outcome and handler calls by type", async () => {
    const run = await startRun(t, {
      name: "measured",
      tasks: [{ name: "a" }, { name: "b", handler: { type: "JSON" } }],
    });
    await t.ok(SetTaskRunStates, {
      input: [
        { taskRunId: run.taskRuns.a!.id, version: 1, state: { type: "SUCCESS", result: { value: "x".repeat(1000) } } },
        { taskRunId: run.taskRuns.b!.id, version: 1, state: { type: "SUCCESS", result: { value: [1, 2] } } },
      ],
    });
    await t.ok(GetTaskRun, { id: run.taskRuns.a!.id });
    await t.fail(SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.a!.id, version: 1, state: { type: "FAILED" } }],
    });

    expect((await fetch(new URL("/metrics", t.app.url))).status).toBe(404);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const requests = "handled_graphql_request_duration_seconds_count";
    expect(metricValue(text, requests, { operation: "SetTaskRunStates", outcome: "ok" })).toBe(1);
    expect(metricValue(text, requests, { operation: "SetTaskRunStates", outcome: "VERSION_MISMATCH" })).toBe(1);
    expect(metricValue(text, requests, { operation: "GetTaskRun", outcome: "ok" })).toBe(1);
    // The LOCAL value written once, and read three times: in the mutation's answer, then as the
    // current state's and in the history.
    expect(
      metricValue(text, "handled_handler_duration_seconds_count", { handler: "LOCAL", call: "write", outcome: "ok" }),
    ).toBe(1);
    expect(metricValue(text, "handled_handler_bytes_total", { handler: "LOCAL", call: "write" })).toBe(1002);
    expect(metricValue(text, "handled_handler_bytes_total", { handler: "LOCAL", call: "read" })).toBe(3006);
    expect(
      metricValue(text, "handled_handler_duration_seconds_count", { handler: "JSON", call: "write", outcome: "ok" }),
    ).toBe(1);
    expect(text).toMatch(/^handled_db_pool_connections \d+$/m);
    expect(text).toMatch(/^handled_db_pool_waiting_requests 0$/m);
  });
});
