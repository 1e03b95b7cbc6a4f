// The tests drive the API through the SDK's own operations (sdk/operations/*.graphql),
// so every test is also a test of the SDK.
export {
  CreateApiKeyDocument as CreateApiKey,
  CreateFlowDocument as CreateFlow,
  CreateFlowRunDocument as CreateFlowRun,
  GetFlowRunDocument as GetFlowRun,
  GetTaskRunDocument as GetTaskRun,
  GetTaskRunHandlesDocument as GetTaskRunHandles,
  ListApiKeysDocument as ListApiKeys,
  ListFlowRunsDocument as ListFlowRuns,
  ListFlowsDocument as ListFlows,
  ListTaskRunsDocument as ListTaskRuns,
  RevokeApiKeyDocument as RevokeApiKey,
  SetTaskRunStatesDocument as SetTaskRunStates,
  SetTaskRunStatesLeanDocument as SetTaskRunStatesLean,
  TaskRunHistoryDocument as TaskRunHistory,
} from "@handled/client";
