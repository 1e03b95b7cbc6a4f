import type { CreateFlowInput, ParameterValueInput, SetTaskRunStateInput } from "@handled/client";
import type { TestApp } from "./app.js";
import { CreateFlow, CreateFlowRun, SetTaskRunStates } from "./documents.js";

/** A flow run, with its task runs by task name. */
export interface StartedRun {
  flowId: string;
  flowRunId: string;
  taskRuns: Record<string, { id: string; version: number }>;
}

/** Creates a flow and one run of it. */
export async function startRun(
  t: Pick<TestApp, "ok">,
  flow: CreateFlowInput,
  parameters: ParameterValueInput[] = [],
): Promise<StartedRun> {
  const { createFlow } = await t.ok(CreateFlow, { input: flow });
  const { createFlowRun } = await t.ok(CreateFlowRun, { input: { flowId: createFlow.id, parameters } });
  return {
    flowId: createFlow.id,
    flowRunId: createFlowRun.id,
    taskRuns: Object.fromEntries(
      createFlowRun.taskRuns.nodes.map((run) => [run.task.name, { id: run.id, version: run.version }]),
    ),
  };
}

/** Sets one task run's state to SUCCESS with a raw value; returns the stored result. */
export async function succeed(t: TestApp, taskRun: { id: string; version: number }, value: unknown) {
  const input: SetTaskRunStateInput[] = [
    { taskRunId: taskRun.id, version: taskRun.version, state: { type: "SUCCESS", result: { value } } },
  ];
  const { setTaskRunStates } = await t.ok(SetTaskRunStates, { input });
  const run = setTaskRunStates[0]!;
  taskRun.version = run.version;
  const result = run.state.result;
  if (result.__typename !== "Result") throw new Error("expected a result");
  return result;
}
