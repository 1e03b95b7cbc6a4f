import { createHash } from "node:crypto";
import { mkdir, mkdtemp, realpath, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { createClient, HandledApiError, type Operation } from "@handled/client";
import { buildSchema, isObjectType } from "graphql";
import { describe, expect, vi } from "vitest";
import { runKeys } from "../../src/cli/keys.js";
import { runProjects } from "../../src/cli/projects.js";
import { HandledError } from "../../src/errors.js";
import type { TestApp } from "../support/app.js";
import {
  CreateApiKey,
  CreateFlow,
  CreateFlowRun,
  DeleteFlow,
  DeleteFlowRun,
  FlowRunsChanged,
  GetFlowRun,
  GetTaskRun,
  ListApiKeys,
  ListFlows,
  PrepareResultUpload,
  RevokeApiKey,
  SetTaskRunStates,
  TaskRunStateChanged,
} from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";
import { subscribed } from "../support/subscriptions.js";

// With HANDLED_AUTH=required every request needs an API key; a key belongs to a project and can
// read, write or administer; a caller never sees or changes another project's rows.

/** Makes a key with the CLI (npm run keys -- create ...); returns it as printed. */
async function makeKey(
  t: TestApp,
  project: string,
  scope: string,
  ...more: string[]
): Promise<{ key: string; id: string }> {
  const lines: string[] = [];
  await runKeys(
    ["create", "--project", project, "--scope", scope, ...more],
    { DATABASE_URL: t.config.databaseUrl, HANDLED_DATA_DIR: t.config.dataDir },
    (line) => lines.push(line),
  );
  return { key: lines.at(-1)!, id: /^Key (\S+)/.exec(lines[0]!)![1]! };
}

/** A caller with a key: the SDK's client, and a shape startRun takes. */
function as(t: TestApp, key: string) {
  const client = createClient({ url: t.app.url, apiKey: key });
  return { client, ok: <R, V>(operation: Operation<R, V>, variables?: V) => client.request(operation, variables) };
}

/** The error codes an operation fails with, and the HTTP status. */
async function refusal<R, V>(client: ReturnType<typeof createClient>, operation: Operation<R, V>, variables?: V) {
  try {
    await client.request(operation, variables);
  } catch (error) {
    if (error instanceof HandledApiError)
      return { status: error.status, codes: error.errors.map((e) => e.extensions?.code) };
    throw error;
  }
  throw new Error("expected the operation to be refused");
}

/** Directories the service may use: projects are given places under it. */
let root = "";

const test = apiTest.override("env", { scope: "file" }, async ({ s3 }, { onCleanup }) => {
  root = await realpath(await mkdtemp(join(tmpdir(), "handled-places-")));
  onCleanup(() => rm(root, { recursive: true, force: true }));
  await s3.createBucket("shared");
  return {
    ...s3.env(["shared"]),
    HANDLED_LOCAL_DIRS: root,
    HANDLED_AUTH: "required",
    HANDLED_AUTH_CACHE_MS: "0",
    HANDLED_RATE_LIMIT_PER_MINUTE: "40",
  };
});

/** Runs the projects CLI (npm run projects -- ...) as the service's operator would; returns what it printed. */
async function projects(t: TestApp, env: Record<string, string>, ...argv: string[]): Promise<string[]> {
  const lines: string[] = [];
  const serviceEnv = { ...env, DATABASE_URL: t.config.databaseUrl, HANDLED_DATA_DIR: t.config.dataDir };
  await runProjects(argv, serviceEnv, (line) => lines.push(line));
  return lines;
}

describe("API keys", () => {
  test("refuse a request without a key, with a malformed or an unknown one, with 401 UNAUTHENTICATED", async ({
    t,
  }) => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Basic dXNlcjpwYXNz" },
      { authorization: "Bearer not-a-key" },
      { authorization: `Bearer hnd_${"A".repeat(43)}` },
    ];
    for (const headers of attempts) {
      const response = await fetch(t.app.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ query: "{ flows { nodes { id } } }" }),
      });
      expect({ headers, status: response.status }).toEqual({ headers, status: 401 });
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: "UNAUTHENTICATED" } }] });
    }
  });

  test("let a browser load GraphiQL's page without a key, but not run a query", async ({ t }) => {
    const page = await fetch(t.app.url, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const query = new URL(t.app.url);
    query.searchParams.set("query", "{ flows { nodes { id } } }");
    const asked = await fetch(query, { headers: { accept: "text/html" } });
    expect(asked.status).toBe(401);
  });

  test("let a key do what its scope allows: read reads, write writes, and FORBIDDEN beyond", async ({ t }) => {
    const reader = as(t, (await makeKey(t, "scopes", "read")).key);
    const writer = as(t, (await makeKey(t, "scopes", "write")).key);
    const admin = as(t, (await makeKey(t, "scopes", "admin")).key);
    expect(await refusal(reader.client, CreateFlow, { input: { name: "nope", tasks: [] } })).toEqual({
      status: 403,
      codes: ["FORBIDDEN"],
    });
    const run = await startRun(writer, { name: "scoped", tasks: [{ name: "a" }] });
    for (const caller of [reader, writer, admin]) {
      const { flows } = await caller.ok(ListFlows, {});
      expect(flows.nodes.map((flow) => flow.id)).toEqual([run.flowId]);
    }
    await startRun(admin, { name: "by admin", tasks: [] });
  });

  test("stop working when revoked or expired, and keep only their hash", async ({ t }) => {
    const { key, id } = await makeKey(t, "lifecycle", "read");
    const caller = as(t, key);
    await caller.ok(ListFlows, {});
    const [row] = await t.sql<Record<string, unknown>>(`SELECT * FROM api_key WHERE id = $1`, [id]);
    expect(row!.hash).toBe(createHash("sha256").update(key).digest("hex"));
    expect(Object.values(row!).some((value) => JSON.stringify(value)?.includes(key.slice(4)))).toBe(false);
    // The use is recorded after the answer, without holding it up.
    await vi.waitFor(async () => {
      const [used] = await t.sql<{ last_used_at: Date | null }>(`SELECT last_used_at FROM api_key WHERE id = $1`, [id]);
      expect(used!.last_used_at).toBeInstanceOf(Date);
    });

    await runKeys(["revoke", id], { DATABASE_URL: t.config.databaseUrl }, () => undefined);
    expect(await refusal(caller.client, ListFlows, {})).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });

    const expiring = await makeKey(t, "lifecycle", "read", "--expires-in-days", "1");
    await as(t, expiring.key).ok(ListFlows, {});
    await t.sql(`UPDATE api_key SET expires_at = now() - interval '1 second' WHERE id = $1`, [expiring.id]);
    expect(await refusal(as(t, expiring.key).client, ListFlows, {})).toEqual({
      status: 401,
      codes: ["UNAUTHENTICATED"],
    });
  });

  test("are each held to HANDLED_RATE_LIMIT_PER_MINUTE, with 429 and Retry-After past it", async ({ t }) => {
    const busy = (await makeKey(t, "limits", "read")).key;
    const calm = as(t, (await makeKey(t, "limits", "read")).key);
    const ask = () =>
      fetch(t.app.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${busy}` },
        body: JSON.stringify({ query: "{ flows { nodes { id } } }" }),
      });
    for (let i = 0; i < 40; i++) expect((await ask()).status).toBe(200);
    const over = await ask();
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await over.json()).toMatchObject({ errors: [{ extensions: { code: "RATE_LIMITED" } }] });
    // Another key is not held back by this one.
    await calm.ok(ListFlows, {});
  });

  test("are managed through the API by admin keys, within their project", async ({ t }) => {
    const admin = as(t, (await makeKey(t, "managed", "admin")).key);
    const writer = as(t, (await makeKey(t, "managed", "write")).key);
    expect(await refusal(writer.client, ListApiKeys, {})).toMatchObject({ codes: ["FORBIDDEN"] });
    expect(await refusal(writer.client, CreateApiKey, { input: { name: "x", scope: "ADMIN" } })).toMatchObject({
      codes: ["FORBIDDEN"],
    });

    const { createApiKey } = await admin.ok(CreateApiKey, { input: { name: "ui", scope: "READ" } });
    expect(createApiKey.key).toMatch(/^hnd_/);
    expect(createApiKey.apiKey).toMatchObject({
      name: "ui",
      scope: "READ",
      prefix: createApiKey.key.slice(0, 12),
      revokedAt: null,
    });
    const made = as(t, createApiKey.key);
    await made.ok(ListFlows, {});
    const { apiKeys } = await admin.ok(ListApiKeys, {});
    expect(apiKeys.map((key) => key.name)).toEqual(["ui", "", ""]);
    expect(JSON.stringify(apiKeys)).not.toContain(createApiKey.key.slice(12));

    const { revokeApiKey } = await admin.ok(RevokeApiKey, { id: createApiKey.apiKey.id });
    expect(revokeApiKey?.revokedAt).toEqual(expect.any(String));
    expect(await refusal(made.client, ListFlows, {})).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });
    expect(await admin.ok(RevokeApiKey, { id: createApiKey.apiKey.id })).toEqual({ revokeApiKey: null });
  });

  test("leave nothing open to all on the API's port: no /metrics unless it has a port of its own", async ({ t }) => {
    expect(t.app.metricsUrl).toBeUndefined();
    const response = await fetch(new URL("/metrics", t.app.url));
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain("handled_");
  });

  test("are listed by the CLI without the key or its hash", async ({ t }) => {
    const { key, id } = await makeKey(t, "listed", "write", "--name", "ci");
    const lines: string[] = [];
    await runKeys(["list", "--project", "listed"], { DATABASE_URL: t.config.databaseUrl }, (line) => lines.push(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${id}\\tlisted\\thnd_\\S{8}\\twrite\\tci\\tno expiry\\tnever used$`));
    expect(lines[0]).not.toContain(key.slice(12));
  });
});

// Every root field of the schema, tried by a caller of project B with the ids of project A's
// rows. Each must answer as for an id that does not exist, and change nothing. A field without a
// case here fails the suite.
describe("projects", () => {
  /** A's ids and handles: its flow, run, a task run, a key, a file and an object its results are in. */
  interface OfA {
    flowId: string;
    flowRunId: string;
    taskRunId: string;
    keyId: string;
    file: string;
    object: string;
  }
  type Case = (b: ReturnType<typeof as>, a: OfA) => Promise<void>;
  const missing = "00000000-0000-4000-8000-000000000000";
  const cases: Record<string, Case> = {
    "Query.flows": async (b, a) => {
      const { flows } = await b.ok(ListFlows, { first: 500 });
      expect(flows.nodes.map((flow) => flow.id)).not.toContain(a.flowId);
    },
    "Query.flow": async (b, a) => {
      const answer = await b.client.execute(
        { toString: () => "query ($id: ID!) { flow(id: $id) { id } }" } as Operation<{ flow: unknown }, { id: string }>,
        { id: a.flowId },
      );
      expect(answer.data).toEqual({ flow: null });
    },
    "Query.flowRun": async (b, a) => {
      expect(await b.ok(GetFlowRun, { id: a.flowRunId })).toEqual({ flowRun: null });
    },
    "Query.taskRun": async (b, a) => {
      expect(await b.ok(GetTaskRun, { id: a.taskRunId })).toEqual({ taskRun: null });
    },
    "Subscription.taskRunStateChanged": async (b, a) => {
      const refused = await subscribed(b.client, TaskRunStateChanged, { flowRunId: a.flowRunId });
      await refused.ended();
      expect(refused.errors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    },
    "Subscription.flowRunsChanged": async (b, a) => {
      const refused = await subscribed(b.client, FlowRunsChanged, { flowId: a.flowId });
      await refused.ended();
      expect(refused.errors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    },
    "Query.apiKeys": async (b, a) => {
      const { apiKeys } = await b.ok(ListApiKeys, {});
      expect(apiKeys.map((key) => key.id)).not.toContain(a.keyId);
    },
    "Mutation.createApiKey": async (b) => {
      // A key B makes is B's: it cannot see A's rows (the other cases), nor A its.
      await b.ok(CreateApiKey, { input: { name: "b's", scope: "READ" } });
    },
    "Mutation.revokeApiKey": async (b, a) => {
      expect(await b.ok(RevokeApiKey, { id: a.keyId })).toEqual({ revokeApiKey: null });
    },
    "Mutation.createFlow": async (b) => {
      // What B makes is B's: A does not see it (checked below, through A's list).
      await b.ok(CreateFlow, { input: { name: "b's own", tasks: [] } });
      // A's places are A's alone, at the flow's level and the task's.
      for (const handler of [
        { type: "LOCAL" as const, dir: join(root, "a") },
        { type: "LOCAL" as const, dir: join(root, "a", "deeper") },
        { type: "S3" as const, bucket: "shared", prefix: "a" },
        { type: "S3" as const, bucket: "shared", prefix: "a/deeper" },
      ]) {
        const asFlow = await refusal(b.client, CreateFlow, { input: { name: "into a's", handler, tasks: [] } });
        const asTask = await refusal(b.client, CreateFlow, {
          input: { name: "into a's", tasks: [{ name: "t", handler }] },
        });
        expect({ handler, codes: [...asFlow.codes, ...asTask.codes] }).toEqual({
          handler,
          codes: ["HANDLE_OUT_OF_BOUNDS", "HANDLE_OUT_OF_BOUNDS"],
        });
      }
    },
    "Mutation.createFlowRun": async (b, a) => {
      const theirs = await refusalWithMessage(b, CreateFlowRun, { input: { flowId: a.flowId } });
      const none = await refusalWithMessage(b, CreateFlowRun, { input: { flowId: missing } });
      expect(theirs.codes).toEqual(["NOT_FOUND"]);
      expect(theirs.message.replace(a.flowId, "<id>")).toBe(none.message.replace(missing, "<id>"));
    },
    "Mutation.deleteFlowRun": async (b, a) => {
      const theirs = await refusalWithMessage(b, DeleteFlowRun, { id: a.flowRunId });
      const none = await refusalWithMessage(b, DeleteFlowRun, { id: missing });
      expect(theirs.codes).toEqual(["NOT_FOUND"]);
      expect(theirs.message.replace(a.flowRunId, "<id>")).toBe(none.message.replace(missing, "<id>"));
    },
    "Mutation.deleteFlow": async (b, a) => {
      const theirs = await refusalWithMessage(b, DeleteFlow, { id: a.flowId });
      const none = await refusalWithMessage(b, DeleteFlow, { id: missing });
      expect(theirs.codes).toEqual(["NOT_FOUND"]);
      expect(theirs.message.replace(a.flowId, "<id>")).toBe(none.message.replace(missing, "<id>"));
    },
    "Mutation.prepareResultUpload": async (b, a) => {
      const theirs = await refusalWithMessage(b, PrepareResultUpload, { taskRunId: a.taskRunId });
      const none = await refusalWithMessage(b, PrepareResultUpload, { taskRunId: missing });
      expect(theirs.codes).toEqual(["NOT_FOUND"]);
      expect(theirs.message.replace(a.taskRunId, "<id>")).toBe(none.message.replace(missing, "<id>"));
      // Nor may B stream a result into A's task run through the API.
      await expect(b.client.uploadResult(a.taskRunId, "stolen", { via: "api" })).rejects.toMatchObject({
        code: "NOT_FOUND",
        status: 404,
      });
    },
    "Mutation.setTaskRunStates": async (b, a) => {
      const own = await startRun(b, { name: "b's run", tasks: [{ name: "x" }] });
      const inputs = [
        [{ taskRunId: a.taskRunId, version: 1, state: { type: "SUCCESS" as const, result: { value: "overwritten" } } }],
        [
          {
            taskRunId: own.taskRuns.x!.id,
            version: 1,
            state: { type: "RETRYING" as const, cachedInputs: [{ name: "stolen", upstreamTaskRunId: a.taskRunId }] },
          },
        ],
      ];
      for (const input of inputs) {
        const theirs = await refusalWithMessage(b, SetTaskRunStates, { input });
        expect(theirs.codes).toEqual(["NOT_FOUND"]);
        expect(theirs.message).toBe(`No task run has the id "${a.taskRunId}".`);
      }
      // A result B says it wrote itself may not point at A's file or object, through a handler
      // whose place holds A's.
      const x = own.taskRuns.x!;
      for (const handled of [
        { handler: { type: "LOCAL" as const, dir: root }, handle: a.file },
        { handler: { type: "S3" as const, bucket: "shared" }, handle: a.object },
      ]) {
        const theirs = await refusalWithMessage(b, SetTaskRunStates, {
          input: [{ taskRunId: x.id, version: x.version, state: { type: "SUCCESS", result: { handled } } }],
        });
        expect({ handled, codes: theirs.codes }).toEqual({ handled, codes: ["HANDLE_OUT_OF_BOUNDS"] });
      }
    },
  };

  async function refusalWithMessage<R, V>(b: ReturnType<typeof as>, operation: Operation<R, V>, variables: V) {
    try {
      await b.client.request(operation, variables);
    } catch (error) {
      if (error instanceof HandledApiError)
        return { codes: error.errors.map((e) => e.extensions?.code), message: error.errors[0]!.message };
      throw error;
    }
    throw new Error("expected the operation to be refused");
  }

  test("keep every root field within the caller's project, and its places", async ({ t, env }) => {
    const schema = buildSchema(
      (await import("node:fs")).readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"),
    );
    const fields = ["Query", "Mutation", "Subscription"].flatMap((name) => {
      const type = schema.getType(name);
      return isObjectType(type) ? Object.keys(type.getFields()).map((field) => `${name}.${field}`) : [];
    });
    expect(Object.keys(cases).sort()).toEqual(fields.sort());

    const aKey = await makeKey(t, "project-a", "admin");
    await projects(t, env, "places", "project-a", join(root, "a"), "s3://shared/a");
    const a = as(t, aKey.key);
    const b = as(t, (await makeKey(t, "project-b", "admin")).key);
    const run = await startRun(
      a,
      {
        name: "a's flow",
        tasks: [
          { name: "p", isParameter: true },
          { name: "w", handler: { type: "LOCAL", dir: join(root, "a") } },
          { name: "s", handler: { type: "S3", bucket: "shared", prefix: "a/runs" } },
        ],
      },
      [{ name: "p", value: "secret of a" }],
    );
    const { setTaskRunStates: written } = await a.ok(SetTaskRunStates, {
      input: ["w", "s"].map((name) => ({
        taskRunId: run.taskRuns[name]!.id,
        version: 1,
        state: { type: "SUCCESS" as const, result: { value: `${name}: secret of a` } },
      })),
    });
    const [file, object] = written.map((taskRun) => {
      const result = taskRun.state.result;
      if (result.__typename !== "Result") throw new Error("expected a result");
      return result.handle;
    }) as [string, string];
    expect(file.startsWith(join(root, "a"))).toBe(true);
    expect(object).toMatch(/^s3:\/\/shared\/a\/runs\//);
    const ids = {
      flowId: run.flowId,
      flowRunId: run.flowRunId,
      taskRunId: run.taskRuns.w!.id,
      keyId: aKey.id,
      file,
      object,
    };
    // A's rows: its flow, its task runs, their states and results.
    const aRows = async () => [
      await t.sql(`SELECT * FROM flow WHERE id = $1`, [run.flowId]),
      await t.sql(`SELECT * FROM task_run WHERE flow_run_id = $1 ORDER BY id`, [run.flowRunId]),
      await t.sql(
        `SELECT s.*, r.handle FROM state s JOIN task_run t ON t.id = s.task_run_id LEFT JOIN result r ON r.id = s.result_id
         WHERE t.flow_run_id = $1 ORDER BY s.id`,
        [run.flowRunId],
      ),
    ];
    const aBefore = await aRows();
    for (const [field, check] of Object.entries(cases)) {
      await expect(check(b, ids), field).resolves.toBeUndefined();
    }
    expect(await aRows()).toEqual(aBefore);
    // Nothing B tried deleted A's file.
    await expect(stat(file)).resolves.toBeDefined();
    // A's key still works, and A sees none of B's keys.
    const { apiKeys } = await a.ok(ListApiKeys, {});
    expect(apiKeys.map((key) => key.id)).toEqual([aKey.id]);
    const { flows } = await a.ok(ListFlows, { first: 500 });
    expect(flows.nodes.map((flow) => flow.name)).toEqual(["a's flow"]);
  });
});

describe("project places", () => {
  /** The CLI's refusal of a command: the error's code and message. */
  async function refused(run: Promise<unknown>) {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof HandledError)) throw new Error(`expected a HandledError, got ${String(error)}`);
    return { code: error.code, message: error.message };
  }

  test("are given by the CLI within the server's reach, one project each", async ({ t, env }) => {
    expect(await projects(t, env, "places", "project-c", join(root, "c"), "s3://shared/c")).toEqual([
      `Project project-c may use only ${join(root, "c")}, s3://shared/c; no other project may use them.`,
    ]);
    const before = await projects(t, env, "list");
    expect(before).toContain(`project-c\t${join(root, "c")}\ts3://shared/c`);

    const refusals = {
      outsideTheServer: await refused(projects(t, env, "places", "project-d", "/etc")),
      aBucketItMayNotUse: await refused(projects(t, env, "places", "project-d", "s3://other/d")),
      notAPlace: await refused(projects(t, env, "places", "project-d", "relative/dir")),
      insideAnothers: await refused(projects(t, env, "places", "project-d", join(root, "c", "d"))),
      aroundAnothers: await refused(projects(t, env, "places", "project-d", root)),
      anothersBucketPrefix: await refused(projects(t, env, "places", "project-d", "s3://shared")),
      overlappingEachOther: await refused(
        projects(t, env, "places", "project-d", join(root, "d"), join(root, "d", "x")),
      ),
    };
    expect(Object.fromEntries(Object.entries(refusals).map(([what, { code }]) => [what, code]))).toEqual({
      outsideTheServer: "HANDLE_OUT_OF_BOUNDS",
      aBucketItMayNotUse: "HANDLE_OUT_OF_BOUNDS",
      notAPlace: "BAD_USER_INPUT",
      insideAnothers: "BAD_USER_INPUT",
      aroundAnothers: "BAD_USER_INPUT",
      anothersBucketPrefix: "BAD_USER_INPUT",
      overlappingEachOther: "BAD_USER_INPUT",
    });
    expect(refusals.insideAnothers.message).toContain("a place of another project");
    expect(await projects(t, env, "list")).toEqual(before);
  });

  test("hold a project within its places, in every handler type but JSON", async ({ t, env }) => {
    const c = as(t, (await makeKey(t, "project-e", "write")).key);
    await projects(t, env, "places", "project-e", join(root, "e"));
    const run = await startRun(c, {
      name: "held",
      tasks: [
        { name: "own", handler: { type: "LOCAL", dir: join(root, "e", "runs") } },
        { name: "json", handler: { type: "JSON" } },
        { name: "default" },
      ],
    });
    const values = await c.ok(SetTaskRunStates, {
      input: ["own", "json"].map((name) => ({
        taskRunId: run.taskRuns[name]!.id,
        version: 1,
        state: { type: "SUCCESS" as const, result: { value: { name } } },
      })),
    });
    expect(values.setTaskRunStates.map((taskRun) => taskRun.state.type)).toEqual(["SUCCESS", "SUCCESS"]);
    const { taskRun } = await c.ok(GetTaskRun, { id: run.taskRuns.own!.id });
    expect(taskRun?.state.result).toMatchObject({ value: { name: "own" } });

    // The server's default directory is not one of its places, nor is any bucket.
    const viaDefault = await refusal(c.client, SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.default!.id, version: 1, state: { type: "SUCCESS", result: { value: 1 } } }],
    });
    expect(viaDefault.codes).toEqual(["HANDLE_OUT_OF_BOUNDS"]);
    for (const handler of [
      { type: "LOCAL" as const, dir: root },
      { type: "S3" as const, bucket: "shared", prefix: "e" },
    ]) {
      const refusedFlow = await refusal(c.client, CreateFlow, { input: { name: "elsewhere", handler, tasks: [] } });
      expect({ handler, codes: refusedFlow.codes }).toEqual({ handler, codes: ["HANDLE_OUT_OF_BOUNDS"] });
    }
  });

  test("keep others out through a symlink, and let them use what is around", async ({ t, env }) => {
    await projects(t, env, "places", "project-f", join(root, "f"));
    const f = as(t, (await makeKey(t, "project-f", "write")).key);
    const g = as(t, (await makeKey(t, "project-g", "write")).key);
    const ofF = await startRun(f, {
      name: "f",
      tasks: [{ name: "x", handler: { type: "LOCAL", dir: join(root, "f") } }],
    });
    const { setTaskRunStates } = await f.ok(SetTaskRunStates, {
      input: [{ taskRunId: ofF.taskRuns.x!.id, version: 1, state: { type: "SUCCESS", result: { value: "f's" } } }],
    });
    const result = setTaskRunStates[0]!.state.result;
    if (result.__typename !== "Result") throw new Error("expected a result");
    await mkdir(join(root, "g-links"), { recursive: true });
    await symlink(join(root, "f"), join(root, "g-links", "to-f"));

    // G, held nowhere, writes beside F's directory, but reads nothing of it, even through a link.
    const ofG = await startRun(g, { name: "g", tasks: [{ name: "x", handler: { type: "LOCAL", dir: root } }] });
    const x = ofG.taskRuns.x!;
    const through = await refusal(g.client, SetTaskRunStates, {
      input: [
        {
          taskRunId: x.id,
          version: 1,
          state: {
            type: "SUCCESS",
            result: {
              handled: {
                handler: { type: "LOCAL", dir: root },
                handle: join(root, "g-links", "to-f", basename(result.handle)),
              },
            },
          },
        },
      ],
    });
    expect(through.codes).toEqual(["HANDLE_OUT_OF_BOUNDS"]);
    const viaLink = await refusal(g.client, CreateFlow, {
      input: { name: "linked", handler: { type: "LOCAL", dir: join(root, "g-links", "to-f") }, tasks: [] },
    });
    expect(viaLink.codes).toEqual(["HANDLE_OUT_OF_BOUNDS"]);
    const { setTaskRunStates: beside } = await g.ok(SetTaskRunStates, {
      input: [{ taskRunId: x.id, version: 1, state: { type: "SUCCESS", result: { value: "g's" } } }],
    });
    const own = beside[0]!.state.result;
    expect(own.__typename === "Result" && dirname(own.handle)).toBe(root);
  });
});

describe("subscriptions", () => {
  test("need a key, see their project's changes only, and end when their key is revoked", async ({ t }) => {
    const admin = await makeKey(t, "live-a", "admin");
    const reader = await makeKey(t, "live-a", "read");
    const a = as(t, admin.key);
    const b = as(t, (await makeKey(t, "live-b", "read")).key);
    const run = await startRun(a, { name: "private", tasks: [{ name: "x" }] });

    const anonymous = await subscribed(createClient({ url: t.app.url }), TaskRunStateChanged, {
      flowRunId: run.flowRunId,
    });
    await anonymous.ended();
    expect(anonymous.errors.map((e) => e.code)).toEqual(["UNAUTHENTICATED"]);
    const bAll = await subscribed(b.client, FlowRunsChanged, { flowId: null });

    const reading = await subscribed(as(t, reader.key).client, TaskRunStateChanged, { flowRunId: run.flowRunId });
    await a.ok(SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.x!.id, version: 1, state: { type: "RUNNING" } }],
    });
    await reading.until((e) => e.taskRunStateChanged.version === 2);

    await a.ok(RevokeApiKey, { id: reader.id });
    await a.ok(SetTaskRunStates, {
      input: [{ taskRunId: run.taskRuns.x!.id, version: 2, state: { type: "SUCCESS" } }],
    });
    await reading.ended();
    expect(reading.errors.map((e) => e.code)).toEqual(["UNAUTHENTICATED"]);
    expect(reading.events.map((e) => e.taskRunStateChanged.version)).toEqual([2]);
    // B heard nothing of A's run: neither its creation nor its states.
    expect(bAll.events).toEqual([]);
    expect(bAll.errors).toEqual([]);
    bAll.stop();
  });
});
