import { GraphQLScalarType, Kind } from "graphql";
import { JSONResolver } from "graphql-scalars";
import { ErrorCode, HandledError } from "../errors.js";
import { storedSpec, resolveResultHandler } from "../results/resolve-handler.js";
import { specFromRow } from "../results/handler-spec.js";
import { isUuid } from "../services/ids.js";
import { NO_RESULT } from "./mappers.js";
const DateTime = new GraphQLScalarType({
    name: "DateTime",
    description: "An ISO-8601 date-time in UTC.",
    serialize: (value) => value.toISOString(),
    parseValue: (value) => new Date(String(value)),
    parseLiteral: (ast) => new Date(ast.kind === Kind.STRING ? ast.value : Number.NaN),
});
/** A lookup by id: ids that are not UUIDs cannot exist, so they are not looked up. */
const byId = (id, find) => (isUuid(id) ? find(id) : null);
/**
 * Thin resolvers: each root field is one service call; nested fields read the database
 * through Prisma's findUnique, which batches the lookups of one query into one round trip.
 */
export const resolvers = {
    JSON: JSONResolver,
    DateTime,
    Query: {
        flows: (_root, _args, { prisma }) => prisma.flow.findMany({ orderBy: { createdAt: "desc" } }),
        flow: (_root, { id }, { prisma }) => byId(id, (id) => prisma.flow.findUnique({ where: { id } })),
        flowRun: (_root, { id }, { prisma }) => byId(id, (id) => prisma.flowRun.findUnique({ where: { id } })),
        taskRun: (_root, { id }, { prisma }) => byId(id, (id) => prisma.taskRun.findUnique({ where: { id } })),
    },
    Mutation: {
        createFlow: (_root, { input }, { flows }) => flows.createFlow(input),
        createFlowRun: (_root, { input }, { flows }) => flows.createFlowRun(input.flowId, input.parameters ?? []),
        setTaskRunStates: (_root, { input }, { states }) => states.setTaskRunStates(input),
    },
    Flow: {
        handler: (flow) => storedSpec(flow) ?? null,
        tasks: (flow, _args, { prisma }) => prisma.flow.findUniqueOrThrow({ where: { id: flow.id } }).tasks({ orderBy: { position: "asc" } }),
        runs: (flow, _args, { prisma }) => prisma.flow.findUniqueOrThrow({ where: { id: flow.id } }).runs({ orderBy: { createdAt: "desc" } }),
    },
    Task: {
        handler: (task) => storedSpec(task) ?? null,
        resolvedHandler: async (task, _args, { prisma, defaultHandler }) => resolveResultHandler(task, await prisma.flow.findUniqueOrThrow({ where: { id: task.flowId } }), defaultHandler),
    },
    FlowRun: {
        flow: (run, _args, { prisma }) => prisma.flow.findUniqueOrThrow({ where: { id: run.flowId } }),
        taskRuns: (run, _args, { prisma }) => prisma.taskRun.findMany({ where: { flowRunId: run.id }, orderBy: { task: { position: "asc" } } }),
        parameters: async (run, _args, { prisma }) => {
            const taskRuns = await prisma.taskRun.findMany({
                where: { flowRunId: run.id, task: { isParameter: true } },
                include: { task: true },
                orderBy: { task: { position: "asc" } },
            });
            return taskRuns.map(({ task, ...taskRun }) => ({ name: task.name, taskRun }));
        },
    },
    Parameter: {
        result: async ({ taskRun }, _args, { prisma }) => {
            const state = await prisma.state.findUniqueOrThrow({
                where: { taskRunId_version: { taskRunId: taskRun.id, version: 1 } },
            });
            return state.resultId ? prisma.result.findUniqueOrThrow({ where: { id: state.resultId } }) : NO_RESULT;
        },
    },
    TaskRun: {
        task: (run, _args, { prisma }) => prisma.task.findUniqueOrThrow({ where: { id: run.taskId } }),
        flowRun: (run, _args, { prisma }) => prisma.flowRun.findUniqueOrThrow({ where: { id: run.flowRunId } }),
        state: (run, _args, { prisma }) => prisma.state.findUniqueOrThrow({ where: { taskRunId_version: { taskRunId: run.id, version: run.version } } }),
        states: (run, _args, { prisma }) => prisma.state.findMany({ where: { taskRunId: run.id }, orderBy: { version: "asc" } }),
    },
    State: {
        result: (state, _args, { prisma }) => state.resultId ? prisma.result.findUniqueOrThrow({ where: { id: state.resultId } }) : NO_RESULT,
        cachedInputs: (state, _args, { prisma }) => prisma.cachedInput.findMany({ where: { stateId: state.id }, orderBy: { name: "asc" } }),
    },
    CachedInput: {
        upstreamTaskRun: (input, _args, { prisma }) => prisma.taskRun.findUniqueOrThrow({ where: { id: input.upstreamTaskRunId } }),
        result: (input, _args, { prisma }) => prisma.result.findUniqueOrThrow({ where: { id: input.resultId } }),
    },
    ResultOrNone: {
        __resolveType: (result) => ("noResult" in result ? "NoResult" : "Result"),
    },
    Result: {
        handler: (result) => {
            try {
                return specFromRow(result.handlerType, result.handlerConfig);
            }
            catch (cause) {
                throw new HandledError(ErrorCode.RESULT_READ_FAILED, "The stored handler of this result is invalid.", { cause });
            }
        },
        // Read from storage only when selected; a failure is an error on this field alone.
        value: (result, _args, { results }) => results.read(result),
    },
};
//# sourceMappingURL=resolvers.js.map