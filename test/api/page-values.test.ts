import { unlink, writeFile } from "node:fs/promises";
import { describe, expect } from "vitest";
import { postDocument, type TestApp } from "../support/app.js";
import { test } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { metricsText, metricValue } from "../support/metrics.js";

// A flow run's page of task runs reads its values kept outside the database together, before
// GraphQL completes the task runs, when the query selects them. Each `value` field must still
// give what reading it alone gives: its value, or its own error at its own path; and a query that
// does not select values (left out, skipped, or not asked for) must read no file.

interface Answer {
  errors?: { path?: (string | number)[]; extensions?: { code?: string } }[];
  data?: unknown;
}

async function query(t: TestApp, text: string, variables: Record<string, unknown>): Promise<Answer> {
  return (await (await postDocument(t, text, variables)).json()) as Answer;
}

/** LOCAL reads the service has made, whatever their outcome, from its /metrics. */
async function localReads(t: TestApp): Promise<number> {
  return metricValue(await metricsText(t), "handled_handler_duration_seconds_count", {
    handler: "LOCAL",
    call: "read",
  });
}

const TASKS = ["first", "missing", "altered", "unhandled", "last"];

/** A LOCAL flow run whose results are, by task: fine, deleted, altered, never handled, fine. */
async function damagedRun(t: TestApp) {
  const run = await startRun(t, {
    name: "page",
    handler: { type: "LOCAL", dir: t.resultsDir },
    tasks: TASKS.map((name) => ({ name })),
  });
  const handles: Record<string, string> = {};
  for (const task of TASKS) {
    const { id } = await succeed(t, run.taskRuns[task]!, { task });
    handles[task] = (await t.sql<{ handle: string }>("SELECT handle FROM result WHERE id = $1", [id]))[0]!.handle;
  }
  await unlink(handles.missing!);
  await writeFile(handles.altered!, JSON.stringify({ task: "ALTER" }));
  await t.sql("UPDATE result SET handled = false WHERE handle = $1", [handles.unhandled]);
  return run;
}

/** Each task's value under `key`, or the code of the error at that field. */
function valuesOf(
  answer: Answer,
  nodes: { task: { name: string }; state: { result: Record<string, unknown> } }[],
  key: string,
  at: (i: number) => (string | number)[],
) {
  return Object.fromEntries(
    nodes.map((node, i) => {
      const path = JSON.stringify(at(i));
      const error = answer.errors?.find((e) => JSON.stringify(e.path) === path);
      return [node.task.name, error ? error.extensions?.code : node.state.result[key]];
    }),
  );
}

describe("a page of task runs with values kept outside the database", () => {
  test("gives each value field its own value or its own error, aliases and fragments alike", async ({ t }) => {
    const run = await damagedRun(t);
    const answer = await query(
      t,
      `query($id: ID!) {
        flowRun(id: $id) { taskRuns { nodes { task { name } state { result { ...Read } } } } }
      }
      fragment Read on ResultOrNone { ... on Result { value again: value } }`,
      { id: run.flowRunId },
    );
    const nodes = (answer.data as { flowRun: { taskRuns: { nodes: never[] } } }).flowRun.taskRuns.nodes;
    const expected = {
      first: { task: "first" },
      missing: "RESULT_NOT_FOUND",
      altered: "RESULT_INTEGRITY",
      unhandled: "RESULT_NOT_HANDLED",
      last: { task: "last" },
    };
    const at = (key: string) => (i: number) => ["flowRun", "taskRuns", "nodes", i, "state", "result", key];
    expect(valuesOf(answer, nodes, "value", at("value"))).toEqual(expected);
    expect(valuesOf(answer, nodes, "again", at("again"))).toEqual(expected);
    // One error per field, no more.
    expect(answer.errors).toHaveLength(6);
  });

  test("through edges, with the same outcome", async ({ t }) => {
    const run = await damagedRun(t);
    const answer = await query(
      t,
      `query($id: ID!) {
        flowRun(id: $id) { taskRuns { edges { node { task { name } state { result { ... on Result { value } } } } } } }
      }`,
      { id: run.flowRunId },
    );
    const edges = (answer.data as { flowRun: { taskRuns: { edges: { node: never }[] } } }).flowRun.taskRuns.edges;
    expect(
      valuesOf(
        answer,
        edges.map((edge) => edge.node),
        "value",
        (i) => ["flowRun", "taskRuns", "edges", i, "node", "state", "result", "value"],
      ),
    ).toEqual({
      first: { task: "first" },
      missing: "RESULT_NOT_FOUND",
      altered: "RESULT_INTEGRITY",
      unhandled: "RESULT_NOT_HANDLED",
      last: { task: "last" },
    });
  });

  test("reads no file when the query does not select the values", async ({ t }) => {
    const run = await damagedRun(t);
    const before = await localReads(t);
    const documents = [
      `query($id: ID!) { flowRun(id: $id) { taskRuns { nodes { state { result { ... on Result { handle sizeBytes } } } } } } }`,
      `query($id: ID!) { flowRun(id: $id) { taskRuns { nodes { state { result { ... on Result { value @skip(if: true) } } } } } } }`,
      `query($id: ID!, $no: Boolean!) { flowRun(id: $id) { taskRuns { nodes { state { result { ... on Result { value @include(if: $no) } } } } } } }`,
      `query($id: ID!, $no: Boolean!) { flowRun(id: $id) { taskRuns { nodes { state @include(if: $no) { result { ... on Result { value } } } } } } }`,
    ];
    for (const document of documents) {
      const answer = await query(t, document, { id: run.flowRunId, no: false });
      expect(answer.errors).toBeUndefined();
    }
    expect(await localReads(t)).toBe(before);
    // Selected, the four handled values are read (the unhandled one is refused without a read).
    await query(t, documents[2]!, { id: run.flowRunId, no: true });
    expect(await localReads(t)).toBe(before + 4);
  });
});
