import { createClient, HandledApiError, type Operation } from "@handled/client";
import { describe, expect } from "vitest";
import { runKeys } from "../../src/cli/keys.js";
import type { TestApp } from "../support/app.js";
import { CreateFlow, CreateFlowRun, FlowRunsChanged, GetFlowRun, ListFlows } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { subscribed } from "../support/subscriptions.js";

// With HANDLED_TRUSTED_DOCUMENTS=only, keys without admin run only the SDK's operations, named by
// the documentId the SDK sends; a leaked read key cannot run a query of its own.

const test = apiTest.override("env", { scope: "file" }, async () => ({
  HANDLED_AUTH: "required",
  HANDLED_TRUSTED_DOCUMENTS: "only",
}));

async function keyOf(t: TestApp, scope: string): Promise<string> {
  const lines: string[] = [];
  await runKeys(
    ["create", "--project", "trusting", "--scope", scope],
    { DATABASE_URL: t.config.databaseUrl, HANDLED_DATA_DIR: t.config.dataDir },
    (line) => lines.push(line),
  );
  return lines.at(-1)!;
}

/** Posts a GraphQL body as it is given; returns the status and the answer. */
async function post(t: TestApp, key: string, body: Record<string, unknown>) {
  const response = await fetch(t.app.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: unknown[] } };
}

const own = <R>(text: string) => ({ toString: () => text }) as Operation<R, Record<string, unknown>>;

describe("trusted documents only", () => {
  test("let keys without admin run the SDK's operations", async ({ t }) => {
    const writer = createClient({ url: t.app.url, apiKey: await keyOf(t, "write") });
    const { createFlow } = await writer.request(CreateFlow, { input: { name: "trusted", tasks: [] } });
    const reader = createClient({ url: t.app.url, apiKey: await keyOf(t, "read") });
    const { flows } = await reader.request(ListFlows, { first: 10 });
    expect(flows.nodes.map((flow) => flow.id)).toEqual([createFlow.id]);
    expect(await reader.request(GetFlowRun, { id: "00000000-0000-4000-8000-000000000000" })).toEqual({
      flowRun: null,
    });
  });

  test("refuse any other document from them with 403 DOCUMENT_NOT_TRUSTED", async ({ t }) => {
    const key = await keyOf(t, "write");
    const reader = createClient({ url: t.app.url, apiKey: key });
    const refused = await reader.request(own("{ flows(first: 1) { nodes { id } } }")).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HandledApiError);
    expect(refused).toMatchObject({ status: 403, code: "DOCUMENT_NOT_TRUSTED" });

    const unknownId = await post(t, key, { query: "{ __typename }", documentId: "sha256:0000" });
    expect(unknownId.status).toBe(403);
    expect(unknownId.body.errors).toMatchObject([{ extensions: { code: "DOCUMENT_NOT_TRUSTED" } }]);

    const asGet = await fetch(`${t.app.url}?query=${encodeURIComponent("{ __typename }")}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(asGet.status).toBe(403);
  });

  test("run the SDK's text for its documentId, whatever query comes with it", async ({ t }) => {
    const key = await keyOf(t, "read");
    const documentId = (ListFlows as unknown as { __meta__: { hash: string } }).__meta__.hash;
    const swapped = await post(t, key, {
      documentId,
      query: "{ apiKeys { id } }",
      variables: { first: 1 },
    });
    expect(swapped.status).toBe(200);
    expect(swapped.body).toMatchObject({ data: { flows: { nodes: expect.any(Array) } } });
    expect(swapped.body.errors).toBeUndefined();
  });

  test("let admin keys run documents of their own", async ({ t }) => {
    const admin = createClient({ url: t.app.url, apiKey: await keyOf(t, "admin") });
    expect(await admin.request(own<{ __typename: string }>("{ __typename }"))).toEqual({ __typename: "Query" });
    const key = await keyOf(t, "admin");
    const nothingToRun = await post(t, key, { documentId: "sha256:0000" });
    expect(nothingToRun.status).toBe(400);
    expect(nothingToRun.body.errors).toMatchObject([{ extensions: { code: "DOCUMENT_NOT_FOUND" } }]);
  });
});

describe("trusted documents only, for subscriptions", () => {
  test("let keys without admin subscribe with the SDK's subscriptions, and refuse their own", async ({ t }) => {
    const writer = createClient({ url: t.app.url, apiKey: await keyOf(t, "write") });
    const { createFlow } = await writer.request(CreateFlow, { input: { name: "watched", tasks: [{ name: "x" }] } });
    const reader = createClient({ url: t.app.url, apiKey: await keyOf(t, "read") });
    const live = await subscribed(reader, FlowRunsChanged, { flowId: createFlow.id });
    const { createFlowRun } = await writer.request(CreateFlowRun, { input: { flowId: createFlow.id } });
    await live.until((event) => event.flowRunsChanged.id === createFlowRun.id);
    live.stop();

    const own = await subscribed(
      reader,
      { toString: () => "subscription { flowRunsChanged { id } }" } as Operation<unknown, Record<string, never>>,
      {},
    );
    await own.ended();
    expect(own.errors.map((error) => error.code)).toEqual(["DOCUMENT_NOT_TRUSTED"]);
  });
});
