import { access } from "node:fs/promises";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { ResultHandlerInput } from "@handled/client";
import { HandledApiError } from "@handled/client";
import { describe, expect } from "vitest";
import { createServices } from "../../src/app.js";
import { CreateFlow, CreateFlowRun, SetTaskRunStatesLean } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";

// Sweeps with no grace at all, back to back, while batches are written: a sweep may take the
// intent of a write still under way (and delete its object), but then that batch is refused, so
// no recorded result ever points at an object a sweep deleted.

const test = apiTest.override("env", { scope: "file" }, async ({ s3 }) => {
  await s3.createBucket("swept");
  return { ...s3.env(["swept"]), HANDLED_GC_INTERVAL: "0" };
});

describe("sweeping while batches are written", () => {
  test("never deletes an object a recorded result points at", async ({ t, s3 }) => {
    const services = createServices(t.config, t.app.database);
    const handlers: ResultHandlerInput[] = [
      { type: "LOCAL", dir: t.resultsDir },
      { type: "S3", bucket: "swept", prefix: "safety" },
    ];
    const slots: { id: string; version: number }[] = [];
    for (const [i, handler] of handlers.entries()) {
      const { createFlow } = await t.ok(CreateFlow, {
        input: { name: `safety-${i}`, handler, tasks: Array.from({ length: 5 }, (_, n) => ({ name: `t${n}` })) },
      });
      const { createFlowRun } = await t.ok(CreateFlowRun, { input: { flowId: createFlow.id } });
      slots.push(...createFlowRun.taskRuns.nodes.map((run) => ({ id: run.id, version: run.version })));
    }
    let refused = 0;
    let recorded = 0;
    let sweeps = 0;
    let writing = true;
    const sweeper = (async () => {
      while (writing) {
        // A grace of none or of a few milliseconds, paced: some batches lose their intents
        // mid-write, others are recorded.
        await services.lifecycle.sweep({ olderThanSeconds: sweeps % 2 === 0 ? 0 : 0.03 });
        sweeps++;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    // Until each outcome has happened a few times (at most 300 batches).
    for (let round = 0; round < 300 && (recorded < 5 || refused < 5); round++) {
      // Each batch writes all ten task runs at once.
      try {
        await t.ok(SetTaskRunStatesLean, {
          input: slots.map((slot) => ({
            taskRunId: slot.id,
            version: slot.version,
            state: { type: "SUCCESS" as const, result: { value: { round, text: "y".repeat(500) } } },
          })),
        });
        for (const slot of slots) slot.version++;
        recorded++;
      } catch (error) {
        if (!(error instanceof HandledApiError)) throw error;
        expect(error.errors.map((e) => e.extensions?.code)).toEqual(["RESULT_WRITE_FAILED"]);
        refused++;
      }
    }
    writing = false;
    await sweeper;

    const rows = await t.sql<{ handle: string; type: string }>(
      `SELECT handle, handler_type::text AS type FROM result WHERE handler_type <> 'JSON'`,
    );
    const objects = new Set(
      ((await s3.client.send(new ListObjectsV2Command({ Bucket: "swept" }))).Contents ?? []).map(
        (object) => `s3://swept/${object.Key}`,
      ),
    );
    const missing = [];
    for (const { handle, type } of rows) {
      const there =
        type === "S3"
          ? objects.has(handle)
          : await access(handle).then(
              () => true,
              () => false,
            );
      if (!there) missing.push(handle);
    }
    expect(rows.length).toBe(recorded * slots.length);
    expect(missing).toEqual([]);
    // Both happened: the test is about the race between them.
    expect(recorded).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    console.log(`${recorded} batches recorded, ${refused} refused (their intents swept), over ${sweeps} sweeps`);
  });
});
