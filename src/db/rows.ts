// The rows the data-access layer returns: what the services and the API work with. Tables map to
// Prisma's models; rows read with what belongs to them (a task run with its current state and
// that state's result) carry it, so a reader needs no second statement.
import type {
  ApiKey,
  CachedInput,
  Flow,
  FlowRun,
  HandlerType,
  ProjectPlace,
  Result,
  State,
  StateType,
  Task,
  TaskRun,
} from "../generated/prisma/client.js";

export type { HandlerType, StateType };

export type ApiKeyRow = ApiKey;
export type ProjectPlaceRow = ProjectPlace;
export type FlowRow = Flow;
export type TaskRow = Task;
export type ResultRow = Result;
export type CachedInputRow = CachedInput;

/** A flow run's state, from its task runs' current states (see FlowRunState in the schema). */
export type FlowRunState = "PENDING" | "RUNNING" | "SUCCESS" | "FAILED" | "CANCELLED";

/**
 * A state, with its result when it was read with it (null: it has none). Its idempotency key is
 * the writing client's business and is not served.
 */
export interface StateRow extends Omit<State, "idempotencyKey"> {
  loadedResult?: Result | null;
}

/** A task run, with its current state (and its task's position) when read with them. */
export interface TaskRunRow extends TaskRun {
  loadedState?: StateRow;
  position?: number;
}

/** A flow run, with its state when it was read with it. */
export interface FlowRunRow extends FlowRun {
  loadedState?: FlowRunState;
}

/** A parameter of a flow run: its name and the task run that holds its value. */
export interface ParameterRow {
  name: string;
  taskRun: TaskRun;
  /** The result its run was created with; null when no value was given. */
  result: Result | null;
}

/**
 * Whose rows a query may see: a project's. Every query that starts from ids a client gave (or
 * lists from the top) takes one; queries keyed by ids read from rows already in scope (a task run's
 * task, a state's result) do not need it.
 */
export interface Scope {
  projectId: string;
}

/** Rows of a list for many parents at once, each tagged with the parent it belongs to. */
export type Tagged<T> = T & { parent: string };
