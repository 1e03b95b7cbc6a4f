import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { ResultHandlerInput } from "@handled/client";
import pg from "pg";
import { describe, expect } from "vitest";
import { runGc } from "../../src/cli/gc.js";
import { createTestDatabase } from "../support/database.js";
import { CreateFlow, CreateFlowRun, GetTaskRun, SetTaskRunStatesLean } from "../support/documents.js";
import { test } from "../support/fixtures.js";
import { startServiceProcess } from "../support/process.js";

// kill -9 under a sustained write load leaves objects written but never recorded. Each was
// recorded as a write intent before it was written: after a restart, one sweep past the grace
// period leaves no object that no result points at, no result that points at nothing, and every
// acknowledged write where it was.

const WRITERS = 20;

describe("a crash under write load", () => {
  test("leaves nothing behind after one sweep, and loses no acknowledged write (LOCAL and S3)", async ({
    s3,
    tempDir,
  }) => {
    await s3.createBucket("crash");
    const dir = await tempDir("handled-crash-");
    const database = await createTestDatabase();
    const env = { DATABASE_URL: database.url, HANDLED_LOCAL_DIRS: dir, HANDLED_GC_INTERVAL: "0", ...s3.env(["crash"]) };
    try {
      let service = await startServiceProcess(env);
      const handlers: ResultHandlerInput[] = [
        { type: "LOCAL", dir },
        { type: "S3", bucket: "crash", prefix: "load" },
      ];
      const slots: { id: string; version: number }[] = [];
      for (const [i, handler] of handlers.entries()) {
        const { createFlow } = await service.ok(CreateFlow, {
          input: {
            name: `load-${i}`,
            handler,
            tasks: Array.from({ length: WRITERS / 2 }, (_, n) => ({ name: `t${n}` })),
          },
        });
        const { createFlowRun } = await service.ok(CreateFlowRun, { input: { flowId: createFlow.id } });
        slots.push(...createFlowRun.taskRuns.nodes.map((run) => ({ id: run.id, version: run.version })));
      }
      // What the service acknowledged, by task run: the version each write reached, and its value.
      const acknowledged = new Map<string, { version: number; value: unknown }[]>();
      let stop = false;
      const writers = slots.map(async (slot) => {
        while (!stop) {
          const value = { slot: slot.id, version: slot.version, text: "x".repeat(2000) };
          try {
            await service.ok(SetTaskRunStatesLean, {
              input: [{ taskRunId: slot.id, version: slot.version, state: { type: "SUCCESS", result: { value } } }],
            });
          } catch {
            return; // the service is gone
          }
          slot.version++;
          acknowledged.set(slot.id, [...(acknowledged.get(slot.id) ?? []), { version: slot.version, value }]);
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      service.child.kill("SIGKILL");
      await service.exited;
      stop = true;
      await Promise.all(writers);
      const acks = [...acknowledged.values()].flat().length;
      expect(acks).toBeGreaterThan(WRITERS);

      const lines: string[] = [];
      await runGc(["--grace", "0s"], { ...process.env, ...env }, (line) => lines.push(line));
      expect(lines.join("\n")).toMatch(/deleted|Nothing to delete/);

      const sql = new pg.Client({ connectionString: database.url });
      await sql.connect();
      const { rows } = await sql.query<{ handle: string; type: string }>(
        `SELECT handle, handler_type::text AS type FROM result WHERE handler_type <> 'JSON'`,
      );
      const { rows: intents } = await sql.query(
        `SELECT id, handle FROM storage_intent UNION ALL SELECT id, objects::text FROM batch_intent`,
      );
      await sql.end();
      const referenced = new Set(rows.map((row) => row.handle));
      const files = (await readdir(dir)).map((name) => join(dir, name));
      const objects = ((await s3.client.send(new ListObjectsV2Command({ Bucket: "crash" }))).Contents ?? []).map(
        (object) => `s3://crash/${object.Key}`,
      );
      // No object that no result points at; no result that points at nothing; no intent left.
      expect(files.filter((file) => !referenced.has(file))).toEqual([]);
      expect(objects.filter((object) => !referenced.has(object))).toEqual([]);
      const present = new Set([...files, ...objects]);
      expect(rows.filter((row) => !present.has(row.handle))).toEqual([]);
      expect(intents).toEqual([]);

      // Every acknowledged write reads back, at its version, after a restart.
      service = await startServiceProcess(env);
      try {
        for (const [id, writes] of acknowledged) {
          const { taskRun } = await service.ok(GetTaskRun, { id });
          const byVersion = new Map(taskRun!.states.nodes.map((state) => [state.version, state.result]));
          for (const { version, value } of writes) {
            expect({ id, version, result: byVersion.get(version) }).toMatchObject({ id, version, result: { value } });
          }
        }
      } finally {
        await service.kill();
      }
      console.log(
        `${acks} acknowledged writes; the sweep: ${lines.join(" ")}; then ${files.length} files and ${objects.length} objects, all referenced`,
      );
    } finally {
      await database.drop();
    }
  });
});
