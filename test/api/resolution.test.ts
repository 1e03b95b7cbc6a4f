import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ResultHandlerInput } from "@handled/client";
import { describe, expect } from "vitest";
import { startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { post } from "../support/app.js";
import { CreateFlow, GetFlowRun, GetTaskRun, SetTaskRunStates } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun, succeed } from "../support/flows.js";

/** Directories under the results directory for task-level and flow-level handlers. */
const test = apiTest
  .extend("taskDir", { scope: "file" }, async ({ t }) => {
    const dir = join(t.resultsDir, "task-level");
    await mkdir(dir);
    return dir;
  })
  .extend("flowDir", { scope: "file" }, async ({ t }) => {
    const dir = join(t.resultsDir, "flow-level");
    await mkdir(dir);
    return dir;
  });

/** The directories a case names: its task's, its flow's, and the server default's. */
interface Dirs {
  taskDir: string;
  flowDir: string;
  resultsDir: string;
}

describe("which handler writes a task's result", () => {
  const local = (dir: string): ResultHandlerInput => ({ type: "LOCAL", dir });
  const cases: {
    name: string;
    flow: (d: Dirs) => ResultHandlerInput | undefined;
    task: (d: Dirs) => ResultHandlerInput | undefined;
    expected: (d: Dirs) => { type: string; dir: string | null };
  }[] = [
    {
      name: "task and flow set: the task's",
      flow: (d) => local(d.flowDir),
      task: (d) => local(d.taskDir),
      expected: (d) => ({ type: "LOCAL", dir: d.taskDir }),
    },
    {
      name: "task JSON, flow LOCAL: the task's",
      flow: (d) => local(d.flowDir),
      task: () => ({ type: "JSON" }),
      expected: () => ({ type: "JSON", dir: null }),
    },
    {
      name: "task LOCAL, flow JSON: the task's",
      flow: () => ({ type: "JSON" }),
      task: (d) => local(d.taskDir),
      expected: (d) => ({ type: "LOCAL", dir: d.taskDir }),
    },
    {
      name: "only the flow set: the flow's",
      flow: (d) => local(d.flowDir),
      task: () => undefined,
      expected: (d) => ({ type: "LOCAL", dir: d.flowDir }),
    },
    {
      name: "only the flow set (JSON): the flow's",
      flow: () => ({ type: "JSON" }),
      task: () => undefined,
      expected: () => ({ type: "JSON", dir: null }),
    },
    {
      name: "only the task set: the task's",
      flow: () => undefined,
      task: (d) => local(d.taskDir),
      expected: (d) => ({ type: "LOCAL", dir: d.taskDir }),
    },
    {
      name: "neither set: the server default",
      flow: () => undefined,
      task: () => undefined,
      expected: (d) => ({ type: "LOCAL", dir: d.resultsDir }),
    },
  ];

  for (const c of cases) {
    test(`${c.name}`, async ({ t, taskDir, flowDir }) => {
      const d = { taskDir, flowDir, resultsDir: t.resultsDir };
      const run = await startRun(t, {
        name: c.name,
        handler: c.flow(d),
        tasks: [{ name: "work", handler: c.task(d) }],
      });

      const result = await succeed(t, run.taskRuns.work!, { from: c.name });

      expect({ type: result.handler.type, dir: result.handler.dir }).toEqual(c.expected(d));
      expect(result.value).toEqual({ from: c.name });
      if (c.expected(d).dir) expect(result.handle.startsWith(`${c.expected(d).dir}/`)).toBe(true);
    });
  }

  test("reports each task's resolved handler", async ({ t, taskDir, flowDir }) => {
    const { createFlow } = await t.ok(CreateFlow, {
      input: {
        name: "reported",
        handler: local(flowDir),
        tasks: [
          { name: "own", handler: local(taskDir) },
          { name: "inherits" },
          { name: "p", isParameter: true, handler: local(taskDir) },
        ],
      },
    });
    expect(createFlow.tasks.map((task) => [task.name, task.resolvedHandler.type, task.resolvedHandler.dir])).toEqual([
      ["own", "LOCAL", taskDir],
      ["inherits", "LOCAL", flowDir],
      ["p", "JSON", null],
    ]);
  });

  for (const where of ["task", "flow", "both"] as const) {
    test(`writes parameters with the JSON handler even with a LOCAL handler on the ${where}`, async ({
      t,
      taskDir,
      flowDir,
    }) => {
      const run = await startRun(
        t,
        {
          name: `parameters-${where}`,
          handler: where === "task" ? undefined : local(flowDir),
          tasks: [{ name: "limit", isParameter: true, handler: where === "flow" ? undefined : local(taskDir) }],
        },
        [{ name: "limit", value: { max: 10 } }],
      );

      const { flowRun } = await t.ok(GetFlowRun, { id: run.flowRunId });

      expect(flowRun?.parameters).toEqual([
        {
          name: "limit",
          result: expect.objectContaining({
            __typename: "Result",
            handled: true,
            handle: '{"max":10}',
            handler: { type: "JSON", dir: null, bucket: null, prefix: null, codecs: [], inlineBelowBytes: null },
            value: { max: 10 },
          }),
        },
      ]);
    });
  }

  test("writes a parameter task's later results with the JSON handler too", async ({ t, flowDir }) => {
    const run = await startRun(t, {
      name: "parameter-state",
      handler: local(flowDir),
      tasks: [{ name: "p", isParameter: true }],
    });

    const result = await succeed(t, run.taskRuns.p!, [1, 2]);

    expect(result.handler.type).toBe("JSON");
    expect(result.handle).toBe("[1,2]");
  });

  test("reads a result with the handler that wrote it, whatever the default is later", async ({ t }) => {
    const run = await startRun(t, { name: "default-moves", tasks: [{ name: "work" }] });
    const written = await succeed(t, run.taskRuns.work!, "written under the LOCAL default");
    // A second server on the same database whose default is now JSON.
    const replica = await startApp(
      loadConfig({
        DATABASE_URL: t.config.databaseUrl!,
        PORT: "0",
        HANDLED_DATA_DIR: t.config.dataDir,
        HANDLED_DEFAULT_HANDLER: "JSON",
        HANDLED_LOCAL_DIRS: t.resultsDir,
      }),
    );
    try {
      const read = await post(replica.url, GetTaskRun, { id: run.taskRuns.work!.id });
      expect(read.data?.taskRun?.state.result).toMatchObject({
        handler: { type: "LOCAL", dir: t.resultsDir },
        handle: written.handle,
        value: "written under the LOCAL default",
      });

      const next = await post(replica.url, SetTaskRunStates, {
        input: [
          { taskRunId: run.taskRuns.work!.id, version: 2, state: { type: "SUCCESS", result: { value: "now JSON" } } },
        ],
      });
      expect(next.data?.setTaskRunStates[0]?.state.result).toMatchObject({
        handler: { type: "JSON" },
        handle: '"now JSON"',
      });
    } finally {
      await replica.stop();
    }
  });
});
