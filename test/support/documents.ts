import { graphql } from "../generated/gql.js";

// The operations the tests drive the API with; typed by graphql-codegen's client preset,
// exactly as an SDK would use them.

export const ResultFields = graphql(`
  fragment ResultFields on ResultOrNone {
    __typename
    ... on Result {
      id
      handled
      handle
      handler {
        type
        dir
        bucket
        prefix
      }
      value
    }
    ... on NoResult {
      noResult
    }
  }
`);

export const CreateFlow = graphql(`
  mutation CreateFlow($input: CreateFlowInput!) {
    createFlow(input: $input) {
      id
      name
      handler {
        type
        dir
        bucket
        prefix
      }
      tasks {
        id
        name
        isParameter
        handler {
          type
          dir
        }
        resolvedHandler {
          type
          dir
          bucket
          prefix
        }
      }
    }
  }
`);

export const CreateFlowRun = graphql(`
  mutation CreateFlowRun($input: CreateFlowRunInput!) {
    createFlowRun(input: $input) {
      id
      parameters {
        name
        result {
          ...ResultFields
        }
      }
      taskRuns {
        id
        version
        task {
          name
        }
        state {
          type
          result {
            ...ResultFields
          }
        }
      }
    }
  }
`);

export const SetTaskRunStates = graphql(`
  mutation SetTaskRunStates($input: [SetTaskRunStateInput!]!) {
    setTaskRunStates(input: $input) {
      id
      version
      state {
        version
        type
        message
        result {
          ...ResultFields
        }
        cachedInputs {
          name
          upstreamTaskRun {
            id
          }
          result {
            ...ResultFields
          }
        }
      }
    }
  }
`);

export const GetTaskRun = graphql(`
  query GetTaskRun($id: ID!) {
    taskRun(id: $id) {
      id
      version
      task {
        name
      }
      state {
        version
        type
        result {
          ...ResultFields
        }
        cachedInputs {
          name
          result {
            ...ResultFields
          }
        }
      }
      states {
        version
        type
        message
        result {
          ...ResultFields
        }
      }
    }
  }
`);

/** The same task run without `value`: what a list view asks for, touching no storage. */
export const GetTaskRunHandles = graphql(`
  query GetTaskRunHandles($id: ID!) {
    taskRun(id: $id) {
      id
      version
      state {
        type
        result {
          __typename
          ... on Result {
            handled
            handle
            handler {
              type
              dir
              bucket
              prefix
            }
          }
        }
      }
    }
  }
`);

export const GetFlowRun = graphql(`
  query GetFlowRun($id: ID!) {
    flowRun(id: $id) {
      id
      flow {
        id
        name
      }
      parameters {
        name
        result {
          ...ResultFields
        }
      }
      taskRuns {
        id
        version
        task {
          name
          isParameter
        }
      }
    }
  }
`);

export const ListFlows = graphql(`
  query ListFlows {
    flows {
      id
      name
      tasks {
        name
      }
      runs {
        id
      }
    }
  }
`);

/** A flow run as a UI shows it: every task run with its current state and result. */
export const GetFlowRunResults = graphql(`
  query GetFlowRunResults($id: ID!) {
    flowRun(id: $id) {
      id
      taskRuns {
        id
        version
        task {
          name
        }
        state {
          type
          result {
            ...ResultFields
          }
        }
      }
    }
  }
`);

/** Sets states and asks back only the new versions: what a busy worker sends. */
export const SetTaskRunStatesLean = graphql(`
  mutation SetTaskRunStatesLean($input: [SetTaskRunStateInput!]!) {
    setTaskRunStates(input: $input) {
      id
      version
    }
  }
`);
