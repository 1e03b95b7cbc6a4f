import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import { relayStylePagination } from "@apollo/client/utilities";
import { createClient, PageTaskRunsDocument as PageTaskRuns, SetTaskRunStatesLeanDocument } from "@handled/client";
import { PageTaskRunsDocument, type PageTaskRunsQuery, possibleTypes } from "@handled/client/documents";
import { fetchExchange, Client as UrqlClient } from "@urql/core";
import { cacheExchange } from "@urql/exchange-graphcache";
import { relayPagination } from "@urql/exchange-graphcache/extras";
import { describe, expect } from "vitest";
import { test } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";

// The SDK with the two caching clients UIs use: Apollo Client 4 and urql, each with the set-up
// the README gives. They must read both members of ResultOrNone through the SDK's named fragments,
// and page a flow run's task runs with their Relay pagination helpers.

/** A run of 5 tasks: a, c and e succeeded with values, b and d have no result yet. */
async function fiveTaskRuns(url: string): Promise<string> {
  const sdk = createClient({ url });
  const t = {
    ok: <R, V>(operation: Parameters<typeof sdk.request<R, V>>[0], variables?: V) => sdk.request(operation, variables),
  };
  const run = await startRun(t, { name: "paged", tasks: ["a", "b", "c", "d", "e"].map((name) => ({ name })) });
  await sdk.request(SetTaskRunStatesLeanDocument, {
    input: ["a", "c", "e"].map((name) => ({
      taskRunId: run.taskRuns[name]!.id,
      version: 1,
      state: { type: "SUCCESS" as const, result: { value: { task: name } } },
    })),
  });
  return run.flowRunId;
}

/** What a page shows of each task run: its task, and its value or that it has none. */
function shown(data: PageTaskRunsQuery | undefined) {
  return data?.flowRun?.taskRuns.edges.map(({ node }) => {
    const result = node.state.result;
    return `${node.task.name}: ${result.__typename === "Result" ? JSON.stringify(result.value) : result.__typename === "NoResult" ? "none" : "?"}`;
  });
}

const everything = ['a: {"task":"a"}', "b: none", 'c: {"task":"c"}', "d: none", 'e: {"task":"e"}'];

describe("Relay-style connections", () => {
  test("give each edge its cursor, and say where the page starts and whether items come before", async ({ t }) => {
    const flowRunId = await fiveTaskRuns(t.app.url);
    const sdk = createClient({ url: t.app.url });
    const first = (await sdk.request(PageTaskRuns, { flowRunId, first: 2 })).flowRun!.taskRuns;
    expect(first.pageInfo).toMatchObject({
      startCursor: first.edges[0]!.cursor,
      endCursor: first.edges[1]!.cursor,
      hasNextPage: true,
      hasPreviousPage: false,
    });
    const after = first.edges[0]!.cursor;
    const next = (await sdk.request(PageTaskRuns, { flowRunId, first: 2, after })).flowRun!.taskRuns;
    expect(next.edges.map(({ node }) => node.task.name)).toEqual(["b", "c"]);
    expect(next.pageInfo).toMatchObject({ startCursor: next.edges[0]!.cursor, hasPreviousPage: true });
  });
});

describe("Apollo Client 4", () => {
  const apollo = (url: string, withPossibleTypes: boolean) =>
    new ApolloClient({
      link: new HttpLink({ uri: url }),
      cache: new InMemoryCache({
        ...(withPossibleTypes ? { possibleTypes } : {}),
        typePolicies: { FlowRun: { fields: { taskRuns: relayStylePagination() } } },
      }),
    });

  test("reads Result and NoResult through the SDK's fragments, and pages with relayStylePagination", async ({ t }) => {
    const flowRunId = await fiveTaskRuns(t.app.url);
    const client = apollo(t.app.url, true);
    const first = await client.query({ query: PageTaskRunsDocument, variables: { flowRunId, first: 2 } });
    expect(shown(first.data)).toEqual(everything.slice(0, 2));
    let page = first.data!.flowRun!.taskRuns.pageInfo;
    for (let pages = 1; page.hasNextPage && pages < 5; pages++) {
      // As fetchMore does: from the server, merged into the cached field by relayStylePagination.
      const more = await client.query({
        query: PageTaskRunsDocument,
        variables: { flowRunId, first: 2, after: page.endCursor },
        fetchPolicy: "network-only",
      });
      page = more.data!.flowRun!.taskRuns.pageInfo;
    }
    // The cache merged the pages under one field: reading it back gives the whole list.
    const merged = client.readQuery({ query: PageTaskRunsDocument, variables: { flowRunId, first: 2 } });
    expect(shown(merged ?? undefined)).toEqual(everything);
  });

  test("leaves the fragments' fields out without possibleTypes (what the export prevents)", async ({ t }) => {
    const flowRunId = await fiveTaskRuns(t.app.url);
    const client = apollo(t.app.url, false);
    const { data } = await client.query({ query: PageTaskRunsDocument, variables: { flowRunId, first: 5 } });
    // No error: the values are simply missing.
    expect(shown(data)).toEqual(["a: undefined", "b: none", "c: undefined", "d: none", "e: undefined"]);
  });
});

describe("urql", () => {
  test("pages with relayPagination, over POST as the server's CSRF prevention wants", async ({ t }) => {
    const flowRunId = await fiveTaskRuns(t.app.url);
    const client = new UrqlClient({
      url: t.app.url,
      preferGetMethod: false,
      exchanges: [
        cacheExchange({ possibleTypes, resolvers: { FlowRun: { taskRuns: relayPagination() } } }),
        fetchExchange,
      ],
    });
    let after: string | null | undefined;
    let last: PageTaskRunsQuery | undefined;
    for (let pages = 0; pages === 0 || (after && pages < 5); pages++) {
      const { data, error } = await client.query(PageTaskRunsDocument, { flowRunId, first: 2, after }).toPromise();
      expect(error).toBeUndefined();
      last = data;
      after = data?.flowRun?.taskRuns.pageInfo.hasNextPage ? data.flowRun.taskRuns.pageInfo.endCursor : undefined;
    }
    // relayPagination merges the pages into the field: the last answer holds all of them.
    expect(shown(last)).toEqual(everything);
  });
});
