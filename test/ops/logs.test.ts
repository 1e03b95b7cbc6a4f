import { writeFile } from "node:fs/promises";
import { createClient, HandledApiError } from "@handled/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runKeys } from "../../src/cli/keys.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { type S3Emulator, startS3Emulator } from "../support/emulators.js";
import { startRun } from "../support/flows.js";
import { type LogLine, type ServiceProcess, startServiceProcess } from "../support/process.js";

// What the service logs, read from a real run as a log collector would: JSON lines, one per
// request, storage failures with where they happened, and never a value or a credential.

const VALUE = "value-3f9c1d-must-never-be-logged";
const PARAMETER = "parameter-77ab02-must-never-be-logged";
const AWS_SECRET = "aws-secret-b61e4a-must-never-be-logged";
const TOKEN = "bearer-token-0c5d88-must-never-be-logged";

describe("the service's logs", () => {
  let database: TestDatabase;
  let s3: S3Emulator;
  let service: ServiceProcess;
  let lines: LogLine[];
  let output: string;
  let apiKey: string;
  let tampered: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    s3 = await startS3Emulator();
    await s3.createBucket("logged");
    service = await startServiceProcess({
      DATABASE_URL: database.url,
      ...s3.env(["logged"]),
      AWS_CREDENTIALS: JSON.stringify({ ACCESS_KEY: "logged-access-key", SECRET_ACCESS_KEY: AWS_SECRET }),
      // Every line the service can write, debug ones included.
      LOG_LEVEL: "debug",
      HANDLED_AUTH: "required",
    });
    const printed: string[] = [];
    await runKeys(["create", "--project", "logged", "--scope", "write"], { DATABASE_URL: database.url }, (line) =>
      printed.push(line),
    );
    apiKey = printed.at(-1)!;
    // A made-up key is refused, and not logged either.
    const refused = await fetch(service.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${TOKEN}`,
        "x-request-id": "client-chosen-42",
      },
      body: JSON.stringify({ query: "{ flows { nodes { id } } }" }),
    });
    expect(refused.status).toBe(401);
    const client = createClient({ url: service.url, apiKey, headers: { "x-request-id": "client-chosen-42" } });
    const t = { ok: client.request.bind(client) };
    const run = await startRun(
      t,
      {
        name: "logged",
        tasks: [
          { name: "local" },
          { name: "object", handler: { type: "S3", bucket: "logged", prefix: "runs" } },
          { name: "p", isParameter: true },
        ],
      },
      [{ name: "p", value: PARAMETER }],
    );
    await t.ok(SetTaskRunStates, {
      input: [
        {
          taskRunId: run.taskRuns.local!.id,
          version: 1,
          state: { type: "SUCCESS", result: { value: { secret: VALUE } } },
        },
        { taskRunId: run.taskRuns.object!.id, version: 1, state: { type: "SUCCESS", result: { value: VALUE } } },
      ],
    });
    const { taskRun } = await t.ok(GetTaskRun, { id: run.taskRuns.local!.id });
    // The file is altered behind the server's back (same size): the read is refused, and logged.
    const local = taskRun!.state.result;
    if (local.__typename !== "Result") throw new Error("expected a result");
    await writeFile(local.handle, JSON.stringify({ secret: "x".repeat(VALUE.length) }));
    const altered = await t.ok(GetTaskRun, { id: run.taskRuns.local!.id }).catch((error: unknown) => error);
    expect(altered).toMatchObject({ code: "RESULT_INTEGRITY" });
    tampered = local.handle;
    // The store goes away: the read of the S3 value fails, and is logged where it failed.
    await s3.stop();
    const failure = await t.ok(GetTaskRun, { id: run.taskRuns.object!.id }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HandledApiError);
    service.child.kill("SIGTERM");
    await service.exited;
    output = service.output();
    lines = service.logs();
  });
  afterAll(async () => {
    await service.kill();
    await database.drop();
  });

  it("are JSON lines, with no value, parameter, credential or token in any of them", () => {
    expect(output.split("\n").filter((line) => line.startsWith("{")).length).toBeGreaterThan(5);
    for (const secret of [VALUE, PARAMETER, AWS_SECRET, TOKEN, apiKey, apiKey.slice(4), "logged-access-key"])
      expect(output).not.toContain(secret);
    expect(output.toLowerCase()).not.toContain("authorization");
  });

  it("say one line per request: its id (the client's own when it sends one), operation, status, duration and error codes", () => {
    const requests = lines.filter((line) => line.msg === "request" && line.path === "/graphql" && line.status !== 401);
    // Create flow, create run, set states, three reads (and, before them, the one refused for its key).
    expect(requests).toHaveLength(6);
    for (const line of requests) {
      expect(line).toMatchObject({ requestId: "client-chosen-42", method: "POST", status: 200 });
      expect(typeof line.durationMs).toBe("number");
    }
    expect(requests.map((line) => line.operation)).toEqual([
      "CreateFlow",
      "CreateFlowRun",
      "SetTaskRunStates",
      "GetTaskRun",
      "GetTaskRun",
      "GetTaskRun",
    ]);
    expect(requests.map((line) => line.errors)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      ["RESULT_INTEGRITY"],
      ["RESULT_READ_FAILED"],
    ]);
  });

  it("say where a storage failure happened: the handler type and the object", () => {
    // GetTaskRun reads the value twice (as the current state's, and in the history): two lines.
    const failures = lines.filter((line) => line.level === 50 && line.handler === "S3");
    expect(failures).toHaveLength(2);
    for (const failure of failures) {
      // With the request's id, to find it next to its request line.
      expect(failure).toMatchObject({
        handler: "S3",
        call: "read",
        code: "RESULT_READ_FAILED",
        requestId: "client-chosen-42",
      });
      expect(failure.location).toMatch(/^s3:\/\/logged\/runs\/.+\.json$/);
    }
  });

  it("say which result failed its integrity check, and how, without its value", () => {
    const failures = lines.filter((line) => line.level === 50 && line.handler === "LOCAL");
    expect(failures).toHaveLength(2); // the current state's result, and the same in the history
    for (const failure of failures) {
      expect(failure).toMatchObject({ check: "sha256", location: tampered, requestId: "client-chosen-42" });
      expect(failure.msg).toMatch(/^result integrity check failed/);
    }
  });
});
