import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { describe, expect } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { limitRules, operationCost } from "../../src/graphql/limits.js";
import { postDocument, type TestApp } from "../support/app.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";

// A document is refused before any resolver runs when it nests too deep, aliases or directs too
// much, costs too much or is too long; each refusal has its own code, and the server keeps
// answering others meanwhile.

// graphql-js as the server's libraries load it (CommonJS): the test runner would load its ESM copy,
// whose schema those libraries refuse as "from another realm".
const { buildSchema, parse, validate } = createRequire(import.meta.url)("graphql") as typeof import("graphql");

const test = apiTest.override("env", { scope: "file" }, async () => ({
  // As in production: the schema is not shown to whoever asks.
  HANDLED_INTROSPECTION: "false",
  HANDLED_FIELD_SUGGESTIONS: "false",
}));

interface RawAnswer {
  status: number;
  errors?: { message: string; extensions?: { code?: string } }[];
  data?: unknown;
}

/** Sends a document as any client could, and how long the answer took. */
async function send(
  t: TestApp,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<RawAnswer & { ms: number }> {
  const start = performance.now();
  const response = await postDocument(t, query, variables);
  const body = (await response.json()) as Omit<RawAnswer, "status">;
  return { status: response.status, ...body, ms: performance.now() - start };
}

/** Sends `query` while a second client lists flows; both answers, and how long the second took. */
async function whileOthersAsk(t: TestApp, query: string, variables?: Record<string, unknown>) {
  const refused = send(t, query, variables);
  const other = await send(t, "{ flows(first: 1) { nodes { id } } }");
  return { refused: await refused, other };
}

const codes = (answer: RawAnswer) => answer.errors?.map((error) => error.extensions?.code);

/** A query at least `depth` levels deep: flowRun → flow → runs → nodes → flow → … */
function nested(depth: number): string {
  let selection = "id";
  for (let level = 0; level < depth; level += 3) selection = `flow { runs(first: 1) { nodes { ${selection} } } }`;
  return `query ($id: ID!) { flowRun(id: $id) { ${selection} } }`;
}

describe("query limits", () => {
  test("let every operation the SDK ships through, with the defaults", async () => {
    const schema = buildSchema(await readFile(new URL("../../schema.graphql", import.meta.url), "utf8"));
    const folder = new URL("../../sdk/operations/", import.meta.url);
    const files = await Promise.all((await readdir(folder)).map((file) => readFile(new URL(file, folder), "utf8")));
    const limits = loadConfig({}).queryLimits;
    const document = parse(files.join("\n"), { maxTokens: limits.maxTokens });
    expect(validate(schema, document, limitRules(limits)).map((error) => error.message)).toEqual([]);
    // What each costs with its default page sizes, given the smallest values of its variables.
    const smallest: Record<string, unknown> = {
      id: "x",
      flowId: "x",
      flowRunId: "x",
      taskRunId: "x",
      input: [],
    };
    for (const definition of document.definitions) {
      if (definition.kind !== "OperationDefinition") continue;
      const name = definition.name!.value;
      const variables = Object.fromEntries(
        (definition.variableDefinitions ?? []).flatMap((variable) => {
          const key = variable.variable.name.value;
          if (variable.type.kind !== "NonNullType") return [];
          const named = variable.type.type.kind === "NamedType" ? variable.type.type.name.value : "list";
          if (named === "CreateFlowInput") return [[key, { name: "x", tasks: [] }]];
          if (named === "CreateFlowRunInput") return [[key, { flowId: "x" }]];
          if (named === "CreateApiKeyInput") return [[key, { name: "x", scope: "READ" }]];
          return [[key, smallest[key]]];
        }),
      );
      const cost = operationCost(schema, document, variables, name);
      expect({ name, fits: cost <= limits.maxCost }).toEqual({ name, fits: true });
    }
  });

  test("refuse an alias bomb, quickly, and keep serving", async ({ t }) => {
    // 10,000 aliases do not fit in a document's tokens: refused while it is parsed.
    const bomb = `{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: flows(first: 500) { nodes { id } }`).join(" ")} }`;
    const { refused, other } = await whileOthersAsk(t, bomb);
    expect({ status: refused.status, codes: codes(refused) }).toEqual({ status: 400, codes: ["QUERY_TOO_LARGE"] });
    expect(refused.ms).toBeLessThan(5_000);
    expect(other.status).toBe(200);
    // 200 small ones do: refused for their number.
    const many = await send(t, `{ ${Array.from({ length: 200 }, (_, i) => `a${i}: flow(id: "x") { id }`).join(" ")} }`);
    expect({ status: many.status, codes: codes(many) }).toEqual({ status: 400, codes: ["TOO_MANY_ALIASES"] });
    expect(many.errors?.[0]?.message).toMatch(/Aliases limit of 100 exceeded, found 200\. \(HANDLED_MAX_ALIASES\)/);
  });

  test("refuse a 50-deep query with QUERY_TOO_DEEP, and let a 15-deep one through", async ({ t }) => {
    const run = await startRun(t, { name: "deep", tasks: [{ name: "a" }] });
    const { refused, other } = await whileOthersAsk(t, nested(50), { id: run.flowRunId });
    expect({ status: refused.status, codes: codes(refused) }).toEqual({ status: 400, codes: ["QUERY_TOO_DEEP"] });
    expect(other.status).toBe(200);
    const allowed = await send(t, nested(15), { id: run.flowRunId });
    expect(allowed.errors).toBeUndefined();
  });

  test("refuse a document of 100,000 tokens with QUERY_TOO_LARGE, without parsing it whole", async ({ t }) => {
    const answer = await send(t, `{ ${"__typename ".repeat(100_000)}}`);
    expect({ status: answer.status, codes: codes(answer) }).toEqual({ status: 400, codes: ["QUERY_TOO_LARGE"] });
    expect(answer.errors?.[0]?.message).toMatch(/more than 5000 tokens \(HANDLED_MAX_QUERY_TOKENS\)/);
  });

  test("refuse too many directives with TOO_MANY_DIRECTIVES", async ({ t }) => {
    const answer = await send(t, `{ ${"... on Query @include(if: true) { __typename } ".repeat(60)}}`);
    expect({ status: answer.status, codes: codes(answer) }).toEqual({ status: 400, codes: ["TOO_MANY_DIRECTIVES"] });
  });

  test("refuse a query that costs too much with QUERY_TOO_COMPLEX, counting the pages it asks for", async ({ t }) => {
    // No alias, not deep: but up to 500 × 500 × 500 task runs.
    const query = `query ($first: Int) {
      flows(first: $first) { nodes { runs(first: $first) { nodes { taskRuns(first: $first) { nodes { id } } } } } }
    }`;
    const answer = await send(t, query, { first: 500 });
    expect({ status: answer.status, codes: codes(answer) }).toEqual({ status: 400, codes: ["QUERY_TOO_COMPLEX"] });
    expect(answer.errors?.[0]?.message).toMatch(/more than 100000 \(HANDLED_MAX_QUERY_COST\)/);
    // The same document with small pages is cheap.
    expect((await send(t, query, { first: 5 })).errors).toBeUndefined();
  });

  test("refuse a page size of a million and a batch of 100,000 states, and keep serving", async ({ t }) => {
    const page = await send(t, "{ flows(first: 1000000) { nodes { id } } }");
    expect(codes(page)).toEqual(["BAD_USER_INPUT"]);
    const input = Array.from({ length: 100_000 }, (_, i) => ({
      taskRunId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      version: 1,
      state: { type: "SUCCESS" },
    }));
    const { refused, other } = await whileOthersAsk(
      t,
      "mutation ($input: [SetTaskRunStateInput!]!) { setTaskRunStates(input: $input) { id } }",
      { input },
    );
    expect(codes(refused)).toEqual(["BAD_USER_INPUT"]);
    expect(refused.errors?.[0]?.message).toMatch(/at most 1000 states/);
    expect(refused.ms).toBeLessThan(10_000);
    expect(other.status).toBe(200);
  });

  test("keep the schema to itself: no introspection, no suggestions of field names", async ({ t }) => {
    const introspection = await send(t, "{ __schema { types { name } } }");
    expect(codes(introspection)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    const misspelt = await send(t, "{ flos { nodes { id } } }");
    expect(codes(misspelt)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(misspelt.errors?.[0]?.message).toBe('Cannot query field "flos" on type "Query".');
  });
});
