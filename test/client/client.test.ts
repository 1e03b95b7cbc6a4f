import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createClient,
  GetTaskRunHandlesDocument,
  HandledApiError,
  ListFlowsDocument,
  SetTaskRunStatesLeanDocument,
} from "@handled/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";

// The SDK's own behaviour: what it sends, and how every kind of failure reaches the caller.

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ HANDLED_MAX_REQUEST_BYTES: "100000" });
});
afterAll(() => t.stop());

async function thrown(promise: Promise<unknown>): Promise<HandledApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HandledApiError) return error;
    throw error;
  }
  throw new Error("expected a HandledApiError");
}

describe("createClient", () => {
  it("returns typed data", async () => {
    const { flows } = await createClient({ url: t.app.url }).request(ListFlowsDocument, { first: 5 });
    expect(flows.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });

  it("throws the API's errors with their stable code, status and partial data", async () => {
    const client = createClient({ url: t.app.url });
    const error = await thrown(
      client.request(SetTaskRunStatesLeanDocument, {
        input: [{ taskRunId: "00000000-0000-0000-0000-000000000000", version: 1, state: { type: "RUNNING" } }],
      }),
    );
    expect(error.code).toBe("NOT_FOUND");
    expect(error.status).toBe(200);
    expect(error.message).toMatch(/No task run has the id/);
    expect(error.errors).toHaveLength(1);
  });

  it("gives back data and errors as they came from execute", async () => {
    const client = createClient({ url: t.app.url });
    const answer = await client.execute(GetTaskRunHandlesDocument, { id: "not-a-uuid" });
    expect(answer).toEqual({ data: { taskRun: null } });
  });

  it("sends the bearer token and extra headers, a function's called for every request", async () => {
    const seen: Headers[] = [];
    let calls = 0;
    const client = createClient({
      url: t.app.url,
      token: "s3cret",
      headers: () => ({ "x-request-id": `r${++calls}` }),
      fetch: (input, init) => {
        seen.push(new Headers(init?.headers));
        return fetch(input, init);
      },
    });
    await client.request(ListFlowsDocument, {});
    await client.request(ListFlowsDocument, {});
    expect(seen.map((h) => [h.get("authorization"), h.get("x-request-id"), h.get("content-type")])).toEqual([
      ["Bearer s3cret", "r1", "application/json"],
      ["Bearer s3cret", "r2", "application/json"],
    ]);
  });

  it("reports an unreachable server as NETWORK_ERROR", async () => {
    const error = await thrown(createClient({ url: "http://127.0.0.1:1/graphql" }).request(ListFlowsDocument, {}));
    expect(error.code).toBe("NETWORK_ERROR");
    expect(error.status).toBe(0);
  });

  it("reports a server too slow for timeoutMs as NETWORK_ERROR", async () => {
    const server = createServer(() => undefined); // never answers
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const error = await thrown(
        createClient({ url: `http://127.0.0.1:${port}/`, timeoutMs: 200 }).request(ListFlowsDocument, {}),
      );
      expect(error.code).toBe("NETWORK_ERROR");
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("reports an answer that is not the API's as BAD_RESPONSE", async () => {
    const notJson = await thrown(
      createClient({
        url: t.app.url.replace("/graphql", "/nowhere-html"),
        fetch: async () => new Response("<html>502</html>", { status: 502 }),
      }).request(ListFlowsDocument, {}),
    );
    expect([notJson.code, notJson.status]).toEqual(["BAD_RESPONSE", 502]);
    // JSON, but not a GraphQL answer (a probe's, say).
    const notGraphql = await thrown(
      createClient({ url: t.app.url, fetch: async () => Response.json({ status: "ok" }) }).request(
        ListFlowsDocument,
        {},
      ),
    );
    expect(notGraphql.code).toBe("BAD_RESPONSE");
  });

  it("passes on the server's own refusals, such as a body over the size limit", async () => {
    const error = await thrown(
      createClient({ url: t.app.url }).request(SetTaskRunStatesLeanDocument, {
        input: [
          { taskRunId: "x", version: 1, state: { type: "SUCCESS", message: "x".repeat(t.config.maxRequestBytes) } },
        ],
      }),
    );
    expect([error.code, error.status]).toEqual(["PAYLOAD_TOO_LARGE", 413]);
  });
});
