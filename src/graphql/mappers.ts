import type { FlowRow, FlowRunRow, StateRow, TaskRunRow } from "../db/rows.js";
import type { Edge, Page } from "./pagination.js";

/** The absence of a result (the GraphQL NoResult), as opposed to a result whose value is null. */
export interface NoResultModel {
  noResult: true;
}

export const NO_RESULT: NoResultModel = { noResult: true };

/** The state loaded with a task run, when it is the one of the version the task run was read at. */
export const loadedCurrentState = (run: TaskRunRow): StateRow | undefined =>
  run.loadedState?.version === run.version ? run.loadedState : undefined;

// Connections and their edges, as the resolvers make them (see pagination.ts).
export type FlowConnectionModel = Page<FlowRow>;
export type FlowRunConnectionModel = Page<FlowRunRow>;
export type TaskRunConnectionModel = Page<TaskRunRow>;
export type StateConnectionModel = Page<StateRow>;
export type FlowEdgeModel = Edge<FlowRow>;
export type FlowRunEdgeModel = Edge<FlowRunRow>;
export type TaskRunEdgeModel = Edge<TaskRunRow>;
export type StateEdgeModel = Edge<StateRow>;
