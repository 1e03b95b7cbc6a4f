import { access, readdir } from "node:fs/promises";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { ResultHandlerInput } from "@handled/client";
import { HandledApiError } from "@handled/client";
import { describe, expect } from "vitest";
import { createServices } from "../../src/app.js";
import { silentLogger } from "../../src/logger.js";
import { type RetentionPass, RetentionService } from "../../src/services/retention.js";
import { CreateFlow, CreateFlowRun, SetTaskRunStatesLean } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

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

describe("retention while batches are written to the runs it deletes", () => {
  test("leaves no recorded result without its object, and no result without its state", async ({ t }) => {
    const services = createServices(t.config, t.app.database);
    const retention = new RetentionService({
      queries: t.app.database.queries.lifecycle,
      lifecycle: services.lifecycle,
      logger: silentLogger,
      options: { defaultDays: 7, batchSize: 100, pauseMs: 0 },
    });
    const dir = join(t.resultsDir, "retained");
    const outcomes = { recorded: 0, refused: 0, deleted: 0 };
    for (let round = 0; round < 28; round++) {
      const run = await startRun(t, {
        name: `retained-${round}`,
        handler: { type: "LOCAL", dir },
        tasks: [{ name: "a" }, { name: "b" }, { name: "c" }],
      });
      const slots = Object.values(run.taskRuns);
      for (const slot of slots) await succeed(t, slot, { round, first: true });
      // It ended eight days ago, as far as retention can tell.
      await t.sql(
        `UPDATE state s SET created_at = s.created_at - interval '8 days' FROM task_run tr
         WHERE tr.id = s.task_run_id AND tr.flow_run_id = $1`,
        [run.flowRunId],
      );
      await t.sql(`UPDATE flow_run SET created_at = created_at - interval '8 days' WHERE id = $1`, [run.flowRunId]);
      // A retry of the run's tasks races the pass that deletes it.
      // The pass starts a little later each round: it finds the run before, during or after the batch.
      const [pass, batch] = await Promise.allSettled([
        new Promise((resolve) => setTimeout(resolve, (round % 7) * 6)).then(() => retention.pass()),
        t.ok(SetTaskRunStatesLean, {
          input: slots.map((slot) => ({
            taskRunId: slot.id,
            version: slot.version,
            state: { type: "SUCCESS" as const, result: { value: { round, again: true } } },
          })),
        }),
      ]);
      expect(pass.status).toBe("fulfilled");
      if (batch.status === "fulfilled") outcomes.recorded++;
      else {
        expect((batch.reason as HandledApiError).errors.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
        outcomes.refused++;
      }
      if (pass.status === "fulfilled" && (pass.value as RetentionPass | null)?.deletedRuns) outcomes.deleted++;
    }

    const files = (await readdir(dir)).map((name) => join(dir, name));
    const results = await t.sql<{ handle: string; orphan: boolean }>(
      `SELECT r.handle, NOT EXISTS (SELECT 1 FROM state s WHERE s.result_id = r.id) AS orphan
       FROM result r WHERE r.handler_type = 'LOCAL' AND r.handle LIKE $1`,
      [`${dir}/%`],
    );
    // Every result has its state and its file; every file has its result.
    expect(results.filter((r) => r.orphan)).toEqual([]);
    expect(results.map((r) => r.handle).sort()).toEqual(files.sort());
    // A run deleted took its first results; one kept has both.
    expect(results.length).toBe(outcomes.recorded * 6);
    console.log(
      `retention: ${outcomes.deleted} runs deleted; batches ${outcomes.recorded} recorded, ${outcomes.refused} refused`,
    );
  });
});
