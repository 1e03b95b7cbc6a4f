import { access, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { runGc } from "../../src/cli/gc.js";
import type { TestApp } from "../support/app.js";
import { test } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

// `npm run gc`: what a sweep would delete (--dry-run), then the sweep itself.

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** What `npm run gc -- <args>` prints, run on the test app's database. */
async function gc(t: TestApp, args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const env = { ...process.env, DATABASE_URL: t.config.databaseUrl!, HANDLED_DATA_DIR: t.config.dataDir };
  await runGc(args, env, (line) => lines.push(line));
  return lines;
}

describe("npm run gc", () => {
  test("says what it would delete with --dry-run, deletes it without, and keeps what a result points at", async ({
    t,
  }) => {
    const run = await startRun(t, { name: "gc", tasks: [{ name: "kept" }] });
    const kept = await succeed(t, run.taskRuns.kept!, { kept: true });
    // An object written two hours ago for a batch never recorded, and a fresh one (within the
    // grace period: its batch may still be under way).
    const orphan = join(t.resultsDir, "00000000-0000-4000-8000-000000000001.json");
    const fresh = join(t.resultsDir, "00000000-0000-4000-8000-000000000002.json");
    await writeFile(orphan, '"left behind"');
    await writeFile(fresh, '"under way"');
    const intent = (handle: string, age: string) =>
      t.sql(
        `INSERT INTO storage_intent (id, kind, handler_type, handler_config, handle, size_bytes, created_at)
         VALUES (gen_random_uuid(), 'write', 'LOCAL', $1, $2, 13, now() - $3::interval)`,
        [{ dir: t.resultsDir }, handle, age],
      );
    await intent(orphan, "2 hours");
    await intent(fresh, "1 minute");
    // A write intent whose result was recorded after all (its object is referenced): kept.
    await intent(kept.handle, "2 hours");

    expect(await gc(t, ["--dry-run"])).toEqual([
      "LOCAL: would delete 1 objects, 13 bytes",
      "1 would be kept (a result points at them). Nothing was deleted (--dry-run).",
    ]);
    expect(await exists(orphan)).toBe(true);

    expect((await gc(t, []))[0]).toBe("LOCAL: deleted 1 objects, 13 bytes");
    expect(await exists(orphan)).toBe(false);
    expect(await exists(fresh)).toBe(true);
    expect(await exists(kept.handle)).toBe(true);
    expect((await t.sql(`SELECT handle FROM storage_intent`)).map((row) => row.handle)).toEqual([fresh]);

    // Past its grace period (given here), the fresh one goes too.
    expect((await gc(t, ["--grace", "30s"]))[0]).toBe("LOCAL: deleted 1 objects, 13 bytes");
    expect(await exists(fresh)).toBe(false);
    await expect(gc(t, ["--grace", "soon"])).rejects.toThrow(/Usage/);
  });

  test("settles the objects of a batch's intent left behind, each as its own", async ({ t }) => {
    const run = await startRun(t, { name: "gc-batch", tasks: [{ name: "kept" }] });
    const kept = await succeed(t, run.taskRuns.kept!, { kept: true });
    const orphans = [3, 4].map((n) => join(t.resultsDir, `00000000-0000-4000-8000-00000000000${n}.json`));
    const fresh = join(t.resultsDir, "00000000-0000-4000-8000-000000000005.json");
    for (const file of [...orphans, fresh]) await writeFile(file, '"left behind"');
    // What a batch recorded before writing its objects, and a crash then left: one row for all
    // of them (one of which a result points at after all), and one for a batch still under way.
    const object = (handle: string) => ({
      handler_type: "LOCAL",
      handler_config: { dir: t.resultsDir },
      handle,
      size_bytes: 13,
    });
    const batch = (handles: string[], age: string) =>
      t.sql(`INSERT INTO batch_intent (id, objects, created_at) VALUES (gen_random_uuid(), $1, now() - $2::interval)`, [
        JSON.stringify(handles.map(object)),
        age,
      ]);
    await batch([...orphans, kept.handle], "2 hours");
    await batch([fresh], "1 minute");

    expect(await gc(t, ["--dry-run"])).toEqual([
      "LOCAL: would delete 2 objects, 26 bytes",
      "1 would be kept (a result points at them). Nothing was deleted (--dry-run).",
    ]);
    expect(await exists(orphans[0]!)).toBe(true);

    expect((await gc(t, []))[0]).toBe("LOCAL: deleted 2 objects, 26 bytes");
    expect(await Promise.all([...orphans, fresh, kept.handle].map(exists))).toEqual([false, false, true, true]);
    expect(await t.sql(`SELECT handle FROM storage_intent`)).toEqual([]);
    expect(
      (await t.sql<{ objects: { handle: string }[] }>(`SELECT objects FROM batch_intent`)).map((row) =>
        row.objects.map((o) => o.handle),
      ),
    ).toEqual([[fresh]]);
  });
});
