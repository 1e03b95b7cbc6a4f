import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreateFlowInput, SetTaskRunStateInput } from "handled/client";
import { startTestApp, type TestApp } from "../support/app.js";
import { CreateFlow, CreateFlowRun, SetTaskRunStates } from "../support/documents.js";
import { filesUnder } from "../support/files.js";
import { startRun, type StartedRun } from "../support/flows.js";

describe("bad input gets a clear, coded error and changes nothing", () => {
  let t: TestApp;
  let run: StartedRun;
  beforeAll(async () => {
    // Small limits, so oversized values are cheap to send.
    t = await startTestApp({ HANDLED_MAX_VALUE_BYTES: "2000", HANDLED_JSON_MAX_BYTES: "100" });
    run = await startRun(
      t,
      { name: "target", tasks: [{ name: "p", isParameter: true }, { name: "work" }, { name: "inline", handler: { type: "JSON" } }] },
      [{ name: "p", value: 1 }],
    );
  });
  afterAll(() => t.stop());

  /** Everything the service stores: every row of every table, and every file it wrote. */
  async function everything() {
    const tables = ["flow", "task", "flow_run", "task_run", "state", "result", "cached_input"];
    const rows = await Promise.all(tables.map((table) => t.sql(`SELECT * FROM "${table}" ORDER BY id`)));
    return { rows, files: await filesUnder(t.config.dataDir) };
  }

  async function expectRefused(run: () => Promise<readonly { message: string; extensions?: Record<string, unknown> }[]>, code: string, message?: RegExp) {
    const before = await everything();
    const errors = await run();
    expect(errors[0]?.extensions?.code).toBe(code);
    if (message) expect(errors[0]?.message).toMatch(message);
    expect(await everything()).toEqual(before);
  }

  const flowCases: [string, CreateFlowInput, string, RegExp][] = [
    ["LOCAL without dir", { name: "f", handler: { type: "LOCAL" }, tasks: [] }, "BAD_USER_INPUT", /dir is required for LOCAL/],
    ["a relative dir", { name: "f", tasks: [{ name: "a", handler: { type: "LOCAL", dir: "results" } }] }, "BAD_USER_INPUT", /dir must be an absolute path/],
    ["S3 without bucket", { name: "f", tasks: [{ name: "a", handler: { type: "S3" } }] }, "BAD_USER_INPUT", /bucket is required/],
    ["GCS with an invalid bucket", { name: "f", tasks: [{ name: "a", handler: { type: "GCS", bucket: "Not A Bucket!" } }] }, "BAD_USER_INPUT", /bucket must be a valid bucket name/],
    ["JSON with a dir", { name: "f", tasks: [{ name: "a", handler: { type: "JSON", dir: "/tmp" } }] }, "BAD_USER_INPUT", /dir does not apply to JSON/],
    ["a prefix with ..", { name: "f", tasks: [{ name: "a", handler: { type: "S3", bucket: "b-1", prefix: "a/../b" } }] }, "BAD_USER_INPUT", /prefix/],
    ["duplicate task names", { name: "f", tasks: [{ name: "a" }, { name: "a" }] }, "BAD_USER_INPUT", /used twice/],
    ["an empty flow name", { name: "  ", tasks: [] }, "BAD_USER_INPUT", /name must be/],
    ["an S3 bucket the server may not use", { name: "f", tasks: [{ name: "a", handler: { type: "S3", bucket: "not-allowed" } }] }, "HANDLE_OUT_OF_BOUNDS", /not-allowed/],
  ];
  for (const [what, input, code, message] of flowCases) {
    it(`refuses a flow with ${what}`, async () => {
      await expectRefused(() => t.fail(CreateFlow, { input }), code, message);
    });
  }

  it("refuses an unknown handler type", async () => {
    const input = { name: "f", tasks: [{ name: "a", handler: { type: "FTP" } }] } as unknown as CreateFlowInput;
    await expectRefused(() => t.fail(CreateFlow, { input }), "BAD_USER_INPUT", /FTP/);
  });

  it("refuses a run of an unknown flow, or with an unknown or repeated parameter", async () => {
    await expectRefused(() => t.fail(CreateFlowRun, { input: { flowId: "00000000-0000-4000-8000-000000000000" } }), "NOT_FOUND");
    await expectRefused(() => t.fail(CreateFlowRun, { input: { flowId: "not-a-uuid" } }), "NOT_FOUND");
    await expectRefused(() => t.fail(CreateFlowRun, { input: { flowId: run.flowId, parameters: [{ name: "work", value: 1 }] } }), "BAD_USER_INPUT", /no parameter "work"/);
    await expectRefused(
      () => t.fail(CreateFlowRun, { input: { flowId: run.flowId, parameters: [{ name: "p", value: 1 }, { name: "p", value: 2 }] } }),
      "BAD_USER_INPUT",
      /given twice/,
    );
  });

  it("refuses a parameter too large for the JSON handler", async () => {
    await expectRefused(
      () => t.fail(CreateFlowRun, { input: { flowId: run.flowId, parameters: [{ name: "p", value: "x".repeat(200) }] } }),
      "VALUE_TOO_LARGE",
      /JSON handler stores at most 100/,
    );
  });

  const state = (overrides: Partial<SetTaskRunStateInput> & { state?: SetTaskRunStateInput["state"] }): SetTaskRunStateInput[] => [
    { taskRunId: run.taskRuns.work!.id, version: 1, state: { type: "SUCCESS" }, ...overrides },
  ];
  const stateCases: [string, () => SetTaskRunStateInput[], string, RegExp][] = [
    ["an empty batch", () => [], "BAD_USER_INPUT", /at least one/],
    ["the same task run twice", () => [...state({}), ...state({})], "BAD_USER_INPUT", /only once/],
    ["an unknown task run", () => state({ taskRunId: "00000000-0000-4000-8000-000000000000" }), "NOT_FOUND", /No task run/],
    ["a task run id that is no id", () => state({ taskRunId: "../../etc" }), "NOT_FOUND", /No task run/],
    ["both a value and a handled result", () => state({ state: { type: "SUCCESS", result: { value: 1, handled: { handler: { type: "JSON" }, handle: "1" } } } }), "BAD_USER_INPUT", /exactly one/],
    ["a result with neither", () => state({ state: { type: "SUCCESS", result: {} } }), "BAD_USER_INPUT", /exactly one/],
    ["a JSON handle that is not JSON", () => state({ state: { type: "SUCCESS", result: { handled: { handler: { type: "JSON" }, handle: "{not json" } } } }), "BAD_USER_INPUT", /valid JSON/],
    ["a handled result with an invalid handler", () => state({ state: { type: "SUCCESS", result: { handled: { handler: { type: "LOCAL" }, handle: "/x" } } } }), "BAD_USER_INPUT", /dir is required/],
    ["a handled LOCAL result whose file does not exist", () => state({ state: { type: "SUCCESS", result: { handled: { handler: { type: "LOCAL", dir: t.resultsDir }, handle: `${t.resultsDir}/missing.json` } } } }), "RESULT_NOT_FOUND", /No file exists/],
    ["a value over the server's limit", () => state({ state: { type: "SUCCESS", result: { value: "x".repeat(3000) } } }), "VALUE_TOO_LARGE", /at most 2000/],
    ["a value over the JSON handler's limit", () => [{ taskRunId: run.taskRuns.inline!.id, version: 1, state: { type: "SUCCESS", result: { value: "x".repeat(500) } } }], "VALUE_TOO_LARGE", /at most 100/],
    ["a cached input value over the limit", () => state({ state: { type: "RETRYING", cachedInputs: [{ name: "x", upstreamTaskRunId: run.taskRuns.p!.id, value: "x".repeat(500) }] } }), "VALUE_TOO_LARGE", /at most 100/],
    ["a cached input named twice", () => state({ state: { type: "RETRYING", cachedInputs: [{ name: "x", upstreamTaskRunId: run.taskRuns.p!.id }, { name: "x", upstreamTaskRunId: run.taskRuns.p!.id }] } }), "BAD_USER_INPUT", /given twice/],
    ["a cached input from an unknown task run", () => state({ state: { type: "RETRYING", cachedInputs: [{ name: "x", upstreamTaskRunId: "00000000-0000-4000-8000-000000000000" }] } }), "NOT_FOUND", /No task run/],
  ];
  for (const [what, input, code, message] of stateCases) {
    it(`refuses a state change with ${what}`, async () => {
      await expectRefused(() => t.fail(SetTaskRunStates, { input: input() }), code, message);
    });
  }

  it("refuses a state type that does not exist", async () => {
    const input = state({ state: { type: "EXPLODED" as "FAILED" } });
    await expectRefused(() => t.fail(SetTaskRunStates, { input }), "BAD_USER_INPUT", /EXPLODED/);
  });

  it("answers a request body that is not JSON with 400 and a coded error", async () => {
    const response = await fetch(t.app.url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query": ' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errors: [{ message: "The request body is not valid JSON.", extensions: { code: "BAD_REQUEST" } }] });
  });

  it("answers a request body over the limit with 413", async () => {
    const body = JSON.stringify({ query: "{ flows { id } }", variables: { pad: "x".repeat(t.config.maxRequestBytes) } });
    const response = await fetch(t.app.url, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe("PAYLOAD_TOO_LARGE");
  });
});
