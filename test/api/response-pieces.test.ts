import { describe, expect, it } from "vitest";
import { jsonPieces, PIECE_CHARS, piecesWaiting } from "../../src/graphql/response-pieces.js";
import { postDocument, type TestApp } from "../support/app.js";
import { test } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";
import { CHARACTERS, jsonValues } from "../support/json-values.js";

// A GraphQL response is serialised in pieces and sent piece by piece: the text must be exactly
// JSON.stringify's, whatever the value, and the bytes on the wire exactly what Content-Length says.

/** At most the longest text jsonPieces writes at once for `value`: an array's item, or a property with its value. */
function longestText(value: unknown): number {
  const json = (item: unknown) => (JSON.stringify(item) ?? "null").length;
  if (Array.isArray(value)) return Math.max(1, ...value.map(json));
  if (typeof value !== "object" || value === null) return json(value);
  return Math.max(
    1,
    ...Object.entries(value).map(
      ([key, item]) => json(key) + 2 + (typeof item === "object" ? longestText(item) : json(item)),
    ),
  );
}

describe("a response's JSON in pieces", () => {
  it("is JSON.stringify's text, cut into pieces near the size asked for", () => {
    let cut = 0;
    for (const value of jsonValues(11, 2000)) {
      const shape = { data: { value, again: [value, { value }] } };
      const pieces = jsonPieces(shape, 64);
      expect(pieces.join("")).toBe(JSON.stringify(shape));
      // A piece ends with the text that takes it to 64 characters.
      for (const piece of pieces.slice(0, -1)) expect(piece.length).toBeGreaterThanOrEqual(64);
      for (const piece of pieces) expect(piece.length).toBeLessThan(64 + longestText(shape));
      if (pieces.length > 1) cut++;
    }
    expect(cut).toBeGreaterThan(500);
  });

  it("leaves to JSON.stringify what is not plain JSON, with the same text", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const ownJson = Object.assign([1, 2], { toJSON: () => "array's own" });
    const values: object[] = [
      { date: new Date(0), skipped: undefined, fn: () => 1, symbol: Symbol("s"), kept: 1 },
      [undefined, () => 1, Symbol("s"), null, Number.NaN, Number.POSITIVE_INFINITY, -0],
      { toJSON: () => ({ replaced: true }) },
      { nested: { toJSON: (key: string) => `under ${key}` }, items: [0, { toJSON: (key: string) => `at ${key}` }] },
      { gone: { toJSON: () => undefined }, dated: { toJSON: () => new Date(0) }, once: { toJSON: () => ownJson } },
      [{ toJSON: () => undefined }, { toJSON: () => ({ toJSON: () => "not asked" }) }],
      { ownJson, point: new Point(1, 2), boxed: [new String("s"), new Number(2), new Boolean(false)] },
      Object.assign(Object.create(null) as object, { none: Object.assign(Object.create(null) as object, { a: 1 }) }),
      { empty: {}, emptyArray: [], deep: [[[[{}]]]], text: CHARACTERS.join("") },
    ];
    for (const value of values) {
      for (const size of [1, 8, PIECE_CHARS]) expect(jsonPieces(value, size).join("")).toBe(JSON.stringify(value));
    }
  });

  it("gives one piece for a response smaller than a piece, and never an empty one", () => {
    expect(jsonPieces({ data: { __typename: "Query" } })).toEqual(['{"data":{"__typename":"Query"}}']);
    expect(jsonPieces({})).toEqual(["{}"]);
    const pieces = jsonPieces({ rows: Array.from({ length: 400 }, (_, n) => ({ n, text: "x".repeat(1000) })) });
    expect(pieces.length).toBeGreaterThan(10);
    expect(pieces.every((piece) => piece.length > 0 && piece.length < PIECE_CHARS + 1100)).toBe(true);
  });
});

/** POSTs a query; the answer's headers and its body's bytes as they came. */
async function post(t: TestApp, query: string, variables: Record<string, unknown>) {
  const response = await postDocument(t, query, variables);
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe("a large response over HTTP", () => {
  test("arrives whole, of the length it announces, and leaves nothing behind", async ({ t }) => {
    const tasks = Array.from({ length: 40 }, (_, i) => ({ name: `task-${i}` }));
    const run = await startRun(t, { name: "large-response", handler: { type: "JSON" }, tasks });
    // Multi-byte characters on both sides of where pieces end: the length is of bytes, not characters.
    const valueFor = (i: number) => ({ i, text: `${"é😀".repeat(300)}${"x".repeat(i * 7)}${CHARACTERS.join("")}` });
    for (const [i, task] of tasks.entries()) await succeed(t, run.taskRuns[task.name]!, valueFor(i));
    const query = `query($id: ID!) {
      flowRun(id: $id) { taskRuns(first: 100) { nodes { task { name } state { result { ... on Result { handle value } } } } } }
    }`;
    const { response, bytes } = await post(t, query, { id: run.flowRunId });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/(graphql-response\+)?json/);
    expect(Number(response.headers.get("content-length"))).toBe(bytes.length);
    const text = bytes.toString("utf8");
    // More than a piece, in characters and in bytes, so it was sent in pieces.
    expect(text.length).toBeGreaterThan(2 * PIECE_CHARS);
    expect(text.endsWith("}\n")).toBe(true);
    const { data, errors } = JSON.parse(text) as {
      data: {
        flowRun: {
          taskRuns: { nodes: { task: { name: string }; state: { result: { handle: string; value: unknown } } }[] };
        };
      };
      errors?: unknown;
    };
    expect(errors).toBeUndefined();
    const nodes = data.flowRun.taskRuns.nodes;
    expect(nodes).toHaveLength(tasks.length);
    for (const node of nodes) {
      const i = Number(node.task.name.slice("task-".length));
      expect(node.state.result.value).toEqual(valueFor(i));
      expect(JSON.parse(node.state.result.handle)).toEqual(valueFor(i));
    }
    expect(piecesWaiting()).toBe(0);

    // A small answer, and an error, are sent as before, whole.
    const small = await post(t, "{ __typename }", {});
    expect(small.bytes.toString("utf8")).toBe('{"data":{"__typename":"Query"}}\n');
    expect(Number(small.response.headers.get("content-length"))).toBe(small.bytes.length);
    const refused = await post(t, "{ nope }", {});
    expect(refused.response.status).toBe(400);
    expect(JSON.parse(refused.bytes.toString("utf8")).errors[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(piecesWaiting()).toBe(0);
  });
});
