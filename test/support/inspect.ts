import type { TestApp } from "./app.js";
import { filesUnder } from "./files.js";

/** Every value of every column of every table of the service's database, as one text. */
export async function everyStoredText(t: TestApp): Promise<string> {
  const columns = await t.sql<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`,
  );
  if (columns.length < 20) throw new Error(`only ${columns.length} columns found: is the schema there?`);
  const parts = await Promise.all(
    columns.map(({ table_name, column_name }) =>
      t.sql<{ v: string | null }>(`SELECT "${column_name}"::text AS v FROM "${table_name}"`),
    ),
  );
  return parts
    .flat()
    .map((row) => row.v ?? "")
    .join("\n");
}

/**
 * What a refused mutation must leave as it was: how many states, results and cached inputs
 * there are, the sum of all task-run versions, and every file under the data folder.
 */
export async function recorded(t: TestApp) {
  const [counts] = await t.sql(
    `SELECT (SELECT count(*) FROM state)::int AS states, (SELECT count(*) FROM result)::int AS results,
            (SELECT count(*) FROM cached_input)::int AS cached, (SELECT sum(version) FROM task_run)::int AS versions`,
  );
  return { counts, files: await filesUnder(t.config.dataDir) };
}

/** Storage intents of every kind: one row per object (storage_intent), one per batch (batch_intent). */
export const INTENT_ROWS = `(SELECT count(*)::int FROM storage_intent) + (SELECT count(*)::int FROM batch_intent)`;

/** How many storage intents there are (see INTENT_ROWS). */
export async function intentCount(t: TestApp): Promise<number> {
  return (await t.sql<{ n: number }>(`SELECT ${INTENT_ROWS} AS n`))[0]!.n;
}
