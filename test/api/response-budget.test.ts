import { describe, expect } from "vitest";
import { aliasedValues } from "../support/aliases.js";
import { postDocument, type TestApp } from "../support/app.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

// What one request reads from storage is bounded in bytes and in count, decided from the sizes
// the database holds before anything is read: no document, however it aliases, can make the
// server hold more than its budget.

interface RawAnswer {
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
  data?: Record<string, { taskRuns: { nodes: { state: { result: { value?: unknown } } }[] } } | null>;
}

async function post(t: TestApp, query: string, variables: Record<string, unknown>): Promise<RawAnswer> {
  return (await (await postDocument(t, query, variables)).json()) as RawAnswer;
}

const test = apiTest.override("env", { scope: "file" }, async () => ({
  HANDLED_MAX_RESPONSE_BYTES: "1000",
  HANDLED_MAX_RESPONSE_VALUES: "5",
}));

describe("a response's read budget", () => {
  test("serves values until their sizes fill it, then fails the rest with RESPONSE_TOO_LARGE", async ({ t }) => {
    const run = await startRun(t, { name: "sized", tasks: [{ name: "big" }] });
    await succeed(t, run.taskRuns.big!, "x".repeat(398)); // 400 bytes of JSON

    const answer = await post(t, aliasedValues(3), { id: run.flowRunId });

    const values = Object.values(answer.data ?? {}).map((run) => run?.taskRuns.nodes[0]?.state.result.value ?? null);
    expect(values.filter((value) => value !== null)).toHaveLength(2);
    expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(["RESPONSE_TOO_LARGE"]);
    expect(answer.errors?.[0]?.message).toMatch(/room for 200 more of its 1000 \(HANDLED_MAX_RESPONSE_BYTES\)/);
    // The field failed, not the run that holds it.
    expect(Object.values(answer.data ?? {}).every((run) => run !== null)).toBe(true);
  });

  test("counts values and previews, however small", async ({ t }) => {
    const run = await startRun(t, { name: "counted", tasks: [{ name: "tiny" }] });
    await succeed(t, run.taskRuns.tiny!, 1);

    const answer = await post(t, aliasedValues(8), { id: run.flowRunId });

    expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(Array(3).fill("RESPONSE_TOO_LARGE"));
    expect(answer.errors?.[0]?.message).toMatch(/already reads 5 values and previews.*HANDLED_MAX_RESPONSE_VALUES/);
  });

  test("is a request's own: the next request reads again", async ({ t }) => {
    const run = await startRun(t, { name: "again", tasks: [{ name: "big" }] });
    await succeed(t, run.taskRuns.big!, "y".repeat(598));
    for (let i = 0; i < 3; i++) {
      const answer = await post(t, aliasedValues(1), { id: run.flowRunId });
      expect(answer.errors).toBeUndefined();
    }
  });
});
