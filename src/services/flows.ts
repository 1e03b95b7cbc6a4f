import type { InputLimits } from "../config/config.js";
import type { ChangeQueries } from "../db/changes.js";
import { describeDatabaseError } from "../db/errors.js";
import type { FlowCursor, FlowQueries, HandlerColumns, NewFlowRow } from "../db/flows.js";
import type { FlowRow, FlowRunRow, Scope } from "../db/rows.js";
import type { NewParameterResult, RunQueries } from "../db/runs.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Logger } from "../logger.js";
import { ANYWHERE, type HandlerRegistry, type Reach } from "../results/handler-registry.js";
import { type HandlerSpec, handlerConfigOf, parseHandlerSpec } from "../results/handler-spec.js";
import type { ResultStore } from "../results/result-store.js";
import { checkText } from "../validation.js";
import { isUuid } from "./ids.js";
import type { ReachService } from "./reach.js";

/** A task of a new flow. */
export interface NewTask {
  name: string;
  isParameter?: boolean | null;
  handler?: unknown;
}

/** A new flow and its tasks. */
export interface NewFlow {
  name: string;
  handler?: unknown;
  tasks: readonly NewTask[];
  /** Days its runs are kept after they end; none: the server's default. */
  retentionDays?: number | null;
}

/** The longest retention a flow may ask for: a hundred years. */
const MAX_RETENTION_DAYS = 36_500;

/** A parameter value of a new flow run; `value` may be null (a null value, not "none"). */
export interface ParameterValue {
  name: string;
  value?: unknown;
}

export interface FlowServiceDeps {
  flows: FlowQueries;
  runs: RunQueries;
  /** Announces new runs to live updates' subscribers. */
  changes: ChangeQueries;
  logger: Logger;
  registry: HandlerRegistry;
  results: ResultStore;
  /** Where each project's handlers may go. */
  reach: Pick<ReachService, "of">;
  limits: Pick<InputLimits, "maxNameLength" | "maxTasksPerFlow">;
}

function handlerColumns(spec: HandlerSpec | undefined): HandlerColumns {
  return spec
    ? { handlerType: spec.type, handlerConfig: handlerConfigOf(spec) }
    : { handlerType: null, handlerConfig: null };
}

function checkName(name: string, what: string, maxLength: number): string {
  const trimmed = checkText(name, `${what} name`, maxLength).trim();
  if (!trimmed) throw new HandledError(ErrorCode.BAD_USER_INPUT, `${what} name must be 1 to ${maxLength} characters.`);
  return trimmed;
}

/** Flows and flow runs: creating them, with their handlers checked before anything is stored. */
export class FlowService {
  constructor(private readonly deps: FlowServiceDeps) {}

  /** Up to `limit` flows, newest first, after `after` when given. */
  listFlows(scope: Scope, limit: number, after: FlowCursor | null, nameContains?: string | null): Promise<FlowRow[]> {
    if (nameContains) checkText(nameContains, "A name to search for", this.deps.limits.maxNameLength);
    return this.deps.flows.page(scope, limit, after, nameContains ?? undefined);
  }

  /**
   * Creates a flow with its tasks. Throws BAD_USER_INPUT for empty or duplicate names and
   * invalid handlers, HANDLE_OUT_OF_BOUNDS for a handler outside the server's reach.
   */
  async createFlow(scope: Scope, input: NewFlow): Promise<FlowRow> {
    const { maxNameLength, maxTasksPerFlow } = this.deps.limits;
    const name = checkName(input.name, "A flow", maxNameLength);
    if (input.tasks.length > maxTasksPerFlow) {
      throw new HandledError(
        ErrorCode.BAD_USER_INPUT,
        `A flow may have at most ${maxTasksPerFlow} tasks (HANDLED_MAX_TASKS_PER_FLOW); this one has ${input.tasks.length}.`,
      );
    }
    const retentionDays = input.retentionDays ?? null;
    if (
      retentionDays !== null &&
      (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > MAX_RETENTION_DAYS)
    ) {
      throw new HandledError(
        ErrorCode.BAD_USER_INPUT,
        `"retentionDays" is a number of days from 1 to ${MAX_RETENTION_DAYS}, not ${retentionDays}.`,
      );
    }
    const reach = await this.deps.reach.of(scope);
    const flowSpec = await this.checkHandler(input.handler, reach);
    const seen = new Set<string>();
    const tasks: NewFlowRow["tasks"] = [];
    for (const task of input.tasks) {
      const taskName = checkName(task.name, "A task", maxNameLength);
      if (seen.has(taskName)) {
        throw new HandledError(ErrorCode.BAD_USER_INPUT, `The task name "${taskName}" is used twice in this flow.`);
      }
      seen.add(taskName);
      const spec = await this.checkHandler(task.handler, reach);
      tasks.push({ name: taskName, isParameter: task.isParameter ?? false, ...handlerColumns(spec) });
    }
    return this.deps.flows.create(scope, { name, ...handlerColumns(flowSpec), retentionDays, tasks });
  }

  /**
   * Creates a run of a flow: one task run per task, each at version 1. Parameters given a
   * value start in SUCCESS with that value written by the JSON handler; every other task
   * run starts PENDING with no result. Throws NOT_FOUND for an unknown flow, BAD_USER_INPUT
   * for a value of something that is not one of its parameters, VALUE_TOO_LARGE.
   */
  async createFlowRun(scope: Scope, flowId: string, parameters: readonly ParameterValue[]): Promise<FlowRunRow> {
    // A flow of another project is, to this caller, one that does not exist.
    const flow = isUuid(flowId) ? await this.deps.flows.withTasks(scope, flowId) : null;
    if (!flow) throw new HandledError(ErrorCode.NOT_FOUND, `No flow has the id "${flowId}".`);
    const taskIds = new Map(flow.tasks.map((task) => [task.name, task.id]));
    const values = new Map<string, unknown>();
    for (const parameter of parameters) {
      checkText(parameter.name, "A parameter name", this.deps.limits.maxNameLength);
      const task = flow.tasks.find((t) => t.name === parameter.name);
      if (!task?.isParameter) {
        throw new HandledError(
          ErrorCode.BAD_USER_INPUT,
          `The flow "${flow.name}" has no parameter "${parameter.name}".`,
        );
      }
      if (values.has(parameter.name)) {
        throw new HandledError(ErrorCode.BAD_USER_INPUT, `The parameter "${parameter.name}" is given twice.`);
      }
      values.set(parameter.name, parameter.value ?? null);
    }
    // Parameters always go through the JSON handler: their handle is their JSON text, so
    // writing them touches no storage and there is nothing to undo if the insert fails.
    const results = new Map<string, NewParameterResult>();
    for (const [name, value] of values) {
      // The JSON handler reaches nothing: no bounds apply.
      const stored = await this.deps.results.write({ type: "JSON" }, this.deps.results.encode(value), ANYWHERE);
      const { handle, sizeBytes, sha256 } = stored;
      // Never encoded: the JSON handler has no codecs here.
      results.set(taskIds.get(name)!, {
        handlerType: stored.spec.type,
        handlerConfig: handlerConfigOf(stored.spec),
        handle,
        sizeBytes,
        sha256,
      });
    }
    const run = await this.deps.runs.create(flow.id, [...taskIds.values()], results);
    // The run is created whether or not subscribers hear of it: a failure here is logged, not answered.
    await this.deps.changes
      .notify([{ projectId: scope.projectId, flowId: flow.id, flowRunId: run.id, taskRunIds: [] }])
      .catch((error: unknown) => {
        this.deps.logger.warn(
          { flowRun: run.id, cause: describeDatabaseError(error) },
          "a new flow run could not be announced to live updates",
        );
      });
    return run;
  }

  private async checkHandler(input: unknown, reach: Reach): Promise<HandlerSpec | undefined> {
    if (input === undefined || input === null) return undefined;
    const spec = parseHandlerSpec(input);
    await this.deps.registry.checkReach(spec, reach);
    this.deps.results.checkPolicy(spec);
    return spec;
  }
}
