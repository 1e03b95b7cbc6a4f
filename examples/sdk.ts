// Recording a task's result and reading it back with the typed SDK. Type-checked and run by
// the test suite (test/client/example.test.ts); the README shows this file.
import {
  createClient,
  CreateFlowDocument,
  CreateFlowRunDocument,
  HandledApiError,
  ListTaskRunsDocument,
  SetTaskRunStatesLeanDocument,
} from "@handled/client";

export async function example(url: string): Promise<string> {
  const client = createClient({ url });

  const { createFlow } = await client.request(CreateFlowDocument, {
    input: { name: "nightly-report", tasks: [{ name: "extract" }, { name: "summarise", handler: { type: "JSON" } }] },
  });
  const { createFlowRun } = await client.request(CreateFlowRunDocument, { input: { flowId: createFlow.id } });
  const [extract] = createFlowRun.taskRuns.nodes;

  // Record a result: the server writes it through the task's handler and stores the handle.
  await client.request(SetTaskRunStatesLeanDocument, {
    input: [{ taskRunId: extract!.id, version: extract!.version, state: { type: "SUCCESS", result: { value: { rows: 1200 } } } }],
  });

  // A stale version is refused with a stable code, and nothing changes.
  try {
    await client.request(SetTaskRunStatesLeanDocument, {
      input: [{ taskRunId: extract!.id, version: extract!.version, state: { type: "FAILED" } }],
    });
  } catch (error) {
    if (!(error instanceof HandledApiError) || error.code !== "VERSION_MISMATCH") throw error;
  }

  // What a UI lists: each task run's state, the result's size and a preview, never a whole value.
  const { flowRun } = await client.request(ListTaskRunsDocument, { flowRunId: createFlowRun.id, previewBytes: 64 });
  return flowRun!.taskRuns.nodes
    .map(({ task, state }) => {
      const result = state.result.__typename === "Result" ? `${state.result.sizeBytes} bytes: ${state.result.preview?.text ?? "(unreadable)"}` : "no result";
      return `${task.name} ${state.type} (${result})`;
    })
    .join("\n");
}
