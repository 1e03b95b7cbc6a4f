import type { FlowRunState } from "../generated/graphql.js";
import type { FlowRun, Result, State, TaskRun } from "../generated/prisma/client.js";

/**
 * A state, with its result when it was loaded with it (null: it has none). Its idempotency key
 * is the writing client's business and is not served.
 */
export interface StateModel extends Omit<State, "idempotencyKey"> {
  loadedResult?: Result | null;
}

/** A task run, with its current state (and its task's position) when loaded with them. */
export interface TaskRunModel extends TaskRun {
  loadedState?: StateModel;
  position?: number;
}

/** A flow run, with its state when it was loaded with it. */
export interface FlowRunModel extends FlowRun {
  loadedState?: FlowRunState;
}

/** A parameter of a flow run: its name and the task run that holds its value. */
export interface ParameterModel {
  name: string;
  taskRun: TaskRun;
  /** The result its run was created with; null when no value was given. */
  result: Result | null;
}

/** The absence of a result. */
export interface NoResultModel {
  noResult: true;
}

export const NO_RESULT: NoResultModel = { noResult: true };
