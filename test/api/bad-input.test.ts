import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import type { CreateFlowInput, SetTaskRunStateInput } from "@handled/client";
import { describe, expect } from "vitest";
import type { TestApp } from "../support/app.js";
import { CreateFlow, CreateFlowRun, ListFlows, ListTaskRuns, SetTaskRunStates } from "../support/documents.js";
import { filesUnder } from "../support/files.js";
import { test as apiTest } from "../support/fixtures.js";
import { type StartedRun, startRun } from "../support/flows.js";

/** An array nested `depth` deep: [[[…]]]. */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let level = 1; level < depth; level++) value = [value];
  return value;
}

/** The service, with small limits so that oversized values are cheap to send, and a run to aim at. */
const test = apiTest
  .override("env", { scope: "file" }, async () => ({ HANDLED_MAX_VALUE_BYTES: "2000", HANDLED_JSON_MAX_BYTES: "100" }))
  .extend("run", { scope: "file" }, ({ t }) =>
    startRun(
      t,
      {
        name: "target",
        tasks: [{ name: "p", isParameter: true }, { name: "work" }, { name: "inline", handler: { type: "JSON" } }],
      },
      [{ name: "p", value: 1 }],
    ),
  );

/** What a case's input is made from: the service, and the run it aims at. */
interface Target {
  t: TestApp;
  run: StartedRun;
}

describe("bad input gets a clear, coded error and changes nothing", () => {
  /** Everything the service stores: every row of every table, and every file it wrote. */
  async function everything(t: TestApp) {
    const tables = ["flow", "task", "flow_run", "task_run", "state", "result", "cached_input"];
    const rows = await Promise.all(tables.map((table) => t.sql(`SELECT * FROM "${table}" ORDER BY id`)));
    return { rows, files: await filesUnder(t.config.dataDir) };
  }

  async function expectRefused(
    t: TestApp,
    run: () => Promise<readonly { message: string; extensions?: Record<string, unknown> }[]>,
    code: string,
    message?: RegExp,
  ) {
    const before = await everything(t);
    const errors = await run();
    expect(errors[0]?.extensions?.code).toBe(code);
    if (message) expect(errors[0]?.message).toMatch(message);
    expect(await everything(t)).toEqual(before);
  }

  const flowCases: [string, CreateFlowInput, string, RegExp][] = [
    [
      "LOCAL without dir",
      { name: "f", handler: { type: "LOCAL" }, tasks: [] },
      "BAD_USER_INPUT",
      /dir is required for LOCAL/,
    ],
    [
      "a relative dir",
      { name: "f", tasks: [{ name: "a", handler: { type: "LOCAL", dir: "results" } }] },
      "BAD_USER_INPUT",
      /dir must be an absolute path/,
    ],
    [
      "S3 without bucket",
      { name: "f", tasks: [{ name: "a", handler: { type: "S3" } }] },
      "BAD_USER_INPUT",
      /bucket is required/,
    ],
    [
      "GCS with an invalid bucket",
      { name: "f", tasks: [{ name: "a", handler: { type: "GCS", bucket: "Not A Bucket!" } }] },
      "BAD_USER_INPUT",
      /bucket must be a valid bucket name/,
    ],
    [
      "JSON with a dir",
      { name: "f", tasks: [{ name: "a", handler: { type: "JSON", dir: "/tmp" } }] },
      "BAD_USER_INPUT",
      /dir does not apply to JSON/,
    ],
    [
      "a prefix with ..",
      { name: "f", tasks: [{ name: "a", handler: { type: "S3", bucket: "b-1", prefix: "a/../b" } }] },
      "BAD_USER_INPUT",
      /prefix/,
    ],
    ["duplicate task names", { name: "f", tasks: [{ name: "a" }, { name: "a" }] }, "BAD_USER_INPUT", /used twice/],
    ["an empty flow name", { name: "  ", tasks: [] }, "BAD_USER_INPUT", /name must be/],
    [
      "an S3 bucket the server may not use",
      { name: "f", tasks: [{ name: "a", handler: { type: "S3", bucket: "not-allowed" } }] },
      "HANDLE_OUT_OF_BOUNDS",
      /not-allowed/,
    ],
  ];
  for (const [what, input, code, message] of flowCases) {
    test(`refuses a flow with ${what}`, async ({ t }) => {
      await expectRefused(t, () => t.fail(CreateFlow, { input }), code, message);
    });
  }

  test("refuses an unknown handler type", async ({ t }) => {
    const input = { name: "f", tasks: [{ name: "a", handler: { type: "FTP" } }] } as unknown as CreateFlowInput;
    await expectRefused(t, () => t.fail(CreateFlow, { input }), "BAD_USER_INPUT", /FTP/);
  });

  test("refuses a run of an unknown flow, or with an unknown or repeated parameter", async ({ t, run }) => {
    await expectRefused(
      t,
      () => t.fail(CreateFlowRun, { input: { flowId: "00000000-0000-4000-8000-000000000000" } }),
      "NOT_FOUND",
    );
    await expectRefused(t, () => t.fail(CreateFlowRun, { input: { flowId: "not-a-uuid" } }), "NOT_FOUND");
    await expectRefused(
      t,
      () => t.fail(CreateFlowRun, { input: { flowId: run.flowId, parameters: [{ name: "work", value: 1 }] } }),
      "BAD_USER_INPUT",
      /no parameter "work"/,
    );
    await expectRefused(
      t,
      () =>
        t.fail(CreateFlowRun, {
          input: {
            flowId: run.flowId,
            parameters: [
              { name: "p", value: 1 },
              { name: "p", value: 2 },
            ],
          },
        }),
      "BAD_USER_INPUT",
      /given twice/,
    );
  });

  test("refuses a parameter too large for the JSON handler", async ({ t, run }) => {
    await expectRefused(
      t,
      () =>
        t.fail(CreateFlowRun, { input: { flowId: run.flowId, parameters: [{ name: "p", value: "x".repeat(200) }] } }),
      "VALUE_TOO_LARGE",
      /JSON handler stores at most 100/,
    );
  });

  const state = (
    { run }: Target,
    overrides: Partial<SetTaskRunStateInput> & { state?: SetTaskRunStateInput["state"] },
  ): SetTaskRunStateInput[] => [
    { taskRunId: run.taskRuns.work!.id, version: 1, state: { type: "SUCCESS" }, ...overrides },
  ];
  const stateCases: [string, (c: Target) => SetTaskRunStateInput[], string, RegExp][] = [
    ["an empty batch", () => [], "BAD_USER_INPUT", /at least one/],
    ["the same task run twice", (c) => [...state(c, {}), ...state(c, {})], "BAD_USER_INPUT", /only once/],
    [
      "an unknown task run",
      (c) => state(c, { taskRunId: "00000000-0000-4000-8000-000000000000" }),
      "NOT_FOUND",
      /No task run/,
    ],
    ["a task run id that is no id", (c) => state(c, { taskRunId: "../../etc" }), "NOT_FOUND", /No task run/],
    [
      "both a value and a handled result",
      (c) =>
        state(c, {
          state: { type: "SUCCESS", result: { value: 1, handled: { handler: { type: "JSON" }, handle: "1" } } },
        }),
      "BAD_USER_INPUT",
      /exactly one/,
    ],
    [
      "a result with neither",
      (c) => state(c, { state: { type: "SUCCESS", result: {} } }),
      "BAD_USER_INPUT",
      /exactly one/,
    ],
    [
      "a JSON handle that is not JSON",
      (c) =>
        state(c, {
          state: { type: "SUCCESS", result: { handled: { handler: { type: "JSON" }, handle: "{not json" } } },
        }),
      "BAD_USER_INPUT",
      /valid JSON/,
    ],
    [
      "a handled result with an invalid handler",
      (c) =>
        state(c, { state: { type: "SUCCESS", result: { handled: { handler: { type: "LOCAL" }, handle: "/x" } } } }),
      "BAD_USER_INPUT",
      /dir is required/,
    ],
    [
      "a handled LOCAL result whose file does not exist",
      (c) =>
        state(c, {
          state: {
            type: "SUCCESS",
            result: {
              handled: { handler: { type: "LOCAL", dir: c.t.resultsDir }, handle: `${c.t.resultsDir}/missing.json` },
            },
          },
        }),
      "RESULT_NOT_FOUND",
      /No file exists/,
    ],
    [
      "a value over the server's limit",
      (c) => state(c, { state: { type: "SUCCESS", result: { value: "x".repeat(3000) } } }),
      "VALUE_TOO_LARGE",
      /at most 2000/,
    ],
    [
      "a value over the JSON handler's limit",
      (c) => [
        {
          taskRunId: c.run.taskRuns.inline!.id,
          version: 1,
          state: { type: "SUCCESS", result: { value: "x".repeat(500) } },
        },
      ],
      "VALUE_TOO_LARGE",
      /at most 100/,
    ],
    [
      "a cached input value over the limit",
      (c) =>
        state(c, {
          state: {
            type: "RETRYING",
            cachedInputs: [{ name: "x", upstreamTaskRunId: c.run.taskRuns.p!.id, value: "x".repeat(500) }],
          },
        }),
      "VALUE_TOO_LARGE",
      /at most 100/,
    ],
    [
      "a cached input named twice",
      (c) =>
        state(c, {
          state: {
            type: "RETRYING",
            cachedInputs: [
              { name: "x", upstreamTaskRunId: c.run.taskRuns.p!.id },
              { name: "x", upstreamTaskRunId: c.run.taskRuns.p!.id },
            ],
          },
        }),
      "BAD_USER_INPUT",
      /given twice/,
    ],
    [
      "a cached input from an unknown task run",
      (c) =>
        state(c, {
          state: {
            type: "RETRYING",
            cachedInputs: [{ name: "x", upstreamTaskRunId: "00000000-0000-4000-8000-000000000000" }],
          },
        }),
      "NOT_FOUND",
      /No task run/,
    ],
  ];
  for (const [what, input, code, message] of stateCases) {
    test(`refuses a state change with ${what}`, async ({ t, run }) => {
      await expectRefused(t, () => t.fail(SetTaskRunStates, { input: input({ t, run }) }), code, message);
    });
  }

  // Input that reached PostgreSQL or the stack before it was checked, and failed as an
  // internal error (or was stored, or silently changed).
  const nul = "a\u0000b";
  const loneSurrogate = "a\ud800b";
  const hostileFlows: [string, (c: Target) => CreateFlowInput, RegExp][] = [
    ["a NUL in its name", () => ({ name: nul, tasks: [] }), /NUL/],
    ["a NUL in a task name", () => ({ name: "f", tasks: [{ name: nul }] }), /NUL/],
    ["a lone surrogate in its name", () => ({ name: loneSurrogate, tasks: [] }), /not valid Unicode/],
    ["a name of 1 MB", () => ({ name: "x".repeat(1_000_000), tasks: [] }), /at most 200 characters/],
    [
      "a LOCAL dir of 1 MB",
      (c) => ({ name: "f", handler: { type: "LOCAL", dir: `${c.t.resultsDir}/${"d".repeat(1_000_000)}` }, tasks: [] }),
      /at most 4000/,
    ],
    [
      "a LOCAL dir holding a NUL",
      (c) => ({ name: "f", handler: { type: "LOCAL", dir: `${c.t.resultsDir}/${nul}` }, tasks: [] }),
      /NUL/,
    ],
    [
      "1,001 tasks",
      () => ({ name: "f", tasks: Array.from({ length: 1001 }, (_, i) => ({ name: `t${i}` })) }),
      /at most 1000 tasks/,
    ],
  ];
  for (const [what, input, message] of hostileFlows) {
    test(`refuses a flow with ${what}`, async ({ t, run }) => {
      await expectRefused(t, () => t.fail(CreateFlow, { input: input({ t, run }) }), "BAD_USER_INPUT", message);
    });
  }

  test("refuses a LOCAL handler whose dir is a regular file", async ({ t }) => {
    const file = join(t.resultsDir, "a-file.json");
    await writeFile(file, "{}");
    await expectRefused(
      t,
      () => t.fail(CreateFlow, { input: { name: "f", tasks: [{ name: "a", handler: { type: "LOCAL", dir: file } }] } }),
      "BAD_USER_INPUT",
      /is not a directory/,
    );
  });

  test("refuses a parameter name holding a NUL", async ({ t, run }) => {
    await expectRefused(
      t,
      () => t.fail(CreateFlowRun, { input: { flowId: run.flowId, parameters: [{ name: nul, value: 1 }] } }),
      "BAD_USER_INPUT",
      /NUL/,
    );
  });

  const handled = (t: TestApp, handle: string) => ({
    handled: { handler: { type: "LOCAL" as const, dir: t.resultsDir }, handle },
  });
  const hostileStates: [string, (c: Target) => SetTaskRunStateInput[], RegExp][] = [
    ["a NUL in its message", (c) => state(c, { state: { type: "FAILED", message: nul } }), /NUL/],
    [
      "a message of 5,000 characters",
      (c) => state(c, { state: { type: "FAILED", message: "m".repeat(5000) } }),
      /at most 4096 characters/,
    ],
    [
      "a NUL in a cached input's name",
      (c) =>
        state(c, {
          state: { type: "RETRYING", cachedInputs: [{ name: nul, upstreamTaskRunId: c.run.taskRuns.p!.id }] },
        }),
      /NUL/,
    ],
    [
      "a cached input name of 1 MB",
      (c) =>
        state(c, {
          state: {
            type: "RETRYING",
            cachedInputs: [{ name: "n".repeat(1_000_000), upstreamTaskRunId: c.run.taskRuns.p!.id }],
          },
        }),
      /at most 200/,
    ],
    [
      "a handle holding a NUL",
      (c) => state(c, { state: { type: "SUCCESS", result: handled(c.t, `${c.t.resultsDir}/${nul}.json`) } }),
      /NUL/,
    ],
    [
      "a handle of 8,000 characters",
      (c) => state(c, { state: { type: "SUCCESS", result: handled(c.t, `${c.t.resultsDir}/${"h".repeat(8000)}`) } }),
      /at most 4096/,
    ],
    [
      "a handle of 1 MB",
      (c) =>
        state(c, { state: { type: "SUCCESS", result: handled(c.t, `${c.t.resultsDir}/${"h".repeat(1_000_000)}`) } }),
      /at most 4096/,
    ],
    [
      "a value nested 101 deep",
      (c) => state(c, { state: { type: "SUCCESS", result: { value: nested(101) } } }),
      /deeper than 100/,
    ],
  ];
  for (const [what, input, message] of hostileStates) {
    test(`refuses a state change with ${what}`, async ({ t, run }) => {
      await expectRefused(t, () => t.fail(SetTaskRunStates, { input: input({ t, run }) }), "BAD_USER_INPUT", message);
    });
  }

  test("accepts a value nested exactly as deep as the limit", async ({ t }) => {
    const deep = await startRun(t, { name: "deep", tasks: [{ name: "work" }] });
    const { setTaskRunStates } = await t.ok(SetTaskRunStates, {
      input: [
        { taskRunId: deep.taskRuns.work!.id, version: 1, state: { type: "SUCCESS", result: { value: nested(100) } } },
      ],
    });
    expect(setTaskRunStates[0]!.state.result).toMatchObject({ value: nested(100) });
  });

  /** Sends a body as it is, bytes and all. */
  async function postRaw(t: TestApp, body: string | Uint8Array<ArrayBuffer>) {
    const response = await fetch(t.app.url, { method: "POST", headers: { "content-type": "application/json" }, body });
    return {
      status: response.status,
      body: (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] },
    };
  }

  test("refuses a value nested 20,000 deep, which would overflow the stack", async ({ t, run }) => {
    const before = await everything(t);
    const query = "mutation($i: [SetTaskRunStateInput!]!) { setTaskRunStates(input: $i) { id } }";
    const value = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    const body = `{"query": ${JSON.stringify(query)}, "variables": {"i": [{"taskRunId": "${run.taskRuns.work!.id}", "version": 1, "state": {"type": "SUCCESS", "result": {"value": ${value}}}}]}}`;

    const { body: answer } = await postRaw(t, body);

    expect(answer.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(answer.errors?.[0]?.message).toMatch(/deeper than 100/);
    expect(await everything(t)).toEqual(before);
  });

  test("refuses a body that is not valid UTF-8 instead of storing U+FFFD", async ({ t }) => {
    const before = await everything(t);
    // "café" in Latin-1: the é is the byte 0xE9, which on its own is no UTF-8.
    const body = new Uint8Array(
      Buffer.concat([
        Buffer.from('{"query": "mutation { createFlow(input: { name: \\"caf'),
        Buffer.from([0xe9]),
        Buffer.from('\\", tasks: [] }) { id } }"}'),
      ]),
    );

    const answer = await postRaw(t, body);

    expect(answer).toEqual({
      status: 400,
      body: { errors: [{ message: "The request body is not valid UTF-8.", extensions: { code: "BAD_USER_INPUT" } }] },
    });
    expect(await everything(t)).toEqual(before);
  });

  test("refuses forged cursors with BAD_USER_INPUT", async ({ t, run }) => {
    const cursor = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString("base64url");
    const uuid = "00000000-0000-4000-8000-000000000000";
    for (const after of [
      cursor(["+200000-01-01T00:00:00.000Z", uuid]),
      cursor(["-250000-01-01T00:00:00.000Z", uuid]),
      cursor(["2026-13-45T00:00:00.000Z", uuid]),
    ]) {
      const errors = await t.fail(ListFlows, { after });
      expect({ after, code: errors[0]?.extensions?.code }).toEqual({ after, code: "BAD_USER_INPUT" });
    }
    for (const after of [cursor([1e308]), cursor([-1]), cursor([2 ** 31])]) {
      const errors = await t.fail(ListTaskRuns, { flowRunId: run.flowRunId, after });
      expect({ after, code: errors[0]?.extensions?.code }).toEqual({ after, code: "BAD_USER_INPUT" });
    }
  });

  test("answers a subscription at /graphql with 400 and a code, not an internal error", async ({ t }) => {
    const answer = await postRaw(t, JSON.stringify({ query: "subscription { flowRunsChanged { id } }" }));
    expect(answer.status).toBe(400);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe("OPERATION_NOT_SUPPORTED");
  });

  test("refuses a state type that does not exist", async ({ t, run }) => {
    const input = state({ t, run }, { state: { type: "EXPLODED" as "FAILED" } });
    await expectRefused(t, () => t.fail(SetTaskRunStates, { input }), "BAD_USER_INPUT", /EXPLODED/);
  });

  test("answers a request body that is not JSON with 400 and a coded error", async ({ t }) => {
    const response = await fetch(t.app.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"query": ',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      errors: [{ message: "The request body is not valid JSON.", extensions: { code: "BAD_REQUEST" } }],
    });
  });

  test("reads a body sent without a length (chunked) as one with, and refuses it past the limit with 413", async ({
    t,
  }) => {
    const chunked = (text: string, pieces: number) => {
      const bytes = new TextEncoder().encode(text);
      const size = Math.ceil(bytes.length / pieces);
      return new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += size) controller.enqueue(bytes.subarray(at, at + size));
          controller.close();
        },
      });
    };
    const post = (body: ReadableStream<Uint8Array>) =>
      fetch(t.app.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit);
    const small = await post(chunked(JSON.stringify({ query: "{ __typename }" }), 3));
    expect(await small.json()).toEqual({ data: { __typename: "Query" } });
    const large = await post(
      chunked(
        JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(t.config.maxRequestBytes) } }),
        64,
      ),
    );
    expect(large.status).toBe(413);
    expect(((await large.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe(
      "PAYLOAD_TOO_LARGE",
    );
  });

  test("answers a request body cut short of its Content-Length with 400, and goes on serving", async ({ t }) => {
    const { hostname, port } = new URL(t.app.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":`,
        );
        socket.end();
      });
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString();
      });
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    expect(answer === "" || answer.startsWith("HTTP/1.1 400")).toBe(true);
    const next = await fetch(t.app.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(await next.json()).toEqual({ data: { __typename: "Query" } });
  });

  test("answers a request body over the limit with 413", async ({ t }) => {
    const body = JSON.stringify({
      query: "{ flows { id } }",
      variables: { pad: "x".repeat(t.config.maxRequestBytes) },
    });
    const response = await fetch(t.app.url, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe(
      "PAYLOAD_TOO_LARGE",
    );
  });
});
