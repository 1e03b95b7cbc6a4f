import { specFromRow } from "./handler-spec.js";
/** The spec kept in a flow's or task's handler columns, if any. */
export function storedSpec(columns) {
    return columns.handlerType ? specFromRow(columns.handlerType, columns.handlerConfig) : undefined;
}
/**
 * The handler a task's outputs are written with: parameters always use JSON (so their values
 * stay inspectable); otherwise the task's own handler, else its flow's, else the server default.
 */
export function resolveResultHandler(task, flow, serverDefault) {
    if (task.isParameter)
        return { type: "JSON" };
    return storedSpec(task) ?? storedSpec(flow) ?? serverDefault;
}
//# sourceMappingURL=resolve-handler.js.map