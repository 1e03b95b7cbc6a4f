import type { HandlerSpec, HandlerType } from "./handler-spec.js";
import { specFromRow } from "./handler-spec.js";

/** A handler as the database keeps it on a flow or task: both columns null means "none". */
export interface StoredHandlerColumns {
  handlerType: HandlerType | null;
  handlerConfig: unknown;
}

/** The spec kept in a flow's or task's handler columns, if any. */
export function storedSpec(columns: StoredHandlerColumns): HandlerSpec | undefined {
  return columns.handlerType ? specFromRow(columns.handlerType, columns.handlerConfig) : undefined;
}

/**
 * The handler a task's outputs are written with: parameters always use JSON (so their values
 * stay inspectable); otherwise the task's own handler, else its flow's, else the server default.
 */
export function resolveResultHandler(
  task: StoredHandlerColumns & { isParameter: boolean },
  flow: StoredHandlerColumns,
  serverDefault: HandlerSpec,
): HandlerSpec {
  if (task.isParameter) return { type: "JSON" };
  return storedSpec(task) ?? storedSpec(flow) ?? serverDefault;
}
