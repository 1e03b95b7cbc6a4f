import { GraphQLScalarType, Kind } from "graphql";
import { JSONResolver, SafeIntResolver } from "graphql-scalars";
import type { StateRow, TaskRunRow } from "../db/rows.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Resolvers } from "../generated/graphql.js";
import type { Codec } from "../results/codecs.js";
import { specFromRow } from "../results/handler-spec.js";
import { resolveResultHandler, storedSpec } from "../results/resolve-handler.js";
import { highestScope, type KeyScope } from "../services/api-keys.js";
import { isUuid } from "../services/ids.js";
import { KEY_REVOKED, type LiveEvent } from "../services/live.js";
import { requireScope } from "./authorization.js";
import type { GraphQLContext } from "./context.js";
import type { Loaders } from "./loaders.js";
import { loadedCurrentState, NO_RESULT } from "./mappers.js";
import { readValuesAhead, selectsValues, takeReadAhead } from "./page-values.js";
import { DEFAULT_PAGE_SIZES, decodeCursor, edgesOf, pageSize, toPage } from "./pagination.js";

const DateTime = new GraphQLScalarType<Date, string>({
  name: "DateTime",
  description: "An ISO-8601 date-time in UTC.",
  serialize: (value) => (value as Date).toISOString(),
  parseValue: (value) => new Date(String(value)),
  parseLiteral: (ast) => new Date(ast.kind === Kind.STRING ? ast.value : Number.NaN),
});

/** Largest preview a request may ask for. */
const MAX_PREVIEW_BYTES = 64 * 1024;

// Cursors come back from clients, so their keys are checked to be what this API makes: a
// position or version that fits PostgreSQL's integer, or a timestamp as toISOString writes it
// (in years PostgreSQL stores) with a UUID.
const isNumber = (key: unknown[]): key is [number] =>
  key.length === 1 && Number.isInteger(key[0]) && (key[0] as number) >= 0 && (key[0] as number) <= 2 ** 31 - 1;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isTime = (text: unknown): text is string => {
  if (typeof text !== "string" || !ISO_TIME.test(text)) return false;
  const time = new Date(text);
  return !Number.isNaN(time.getTime()) && time.toISOString() === text;
};
const isTimeAndId = (key: unknown[]): key is [string, string] =>
  key.length === 2 && isTime(key[0]) && typeof key[1] === "string" && isUuid(key[1]);

/** A lookup by id: ids that are not UUIDs cannot exist, so they are not looked up. */
const byId = <T>(id: string, find: (id: string) => Promise<T | null>) => (isUuid(id) ? find(id) : null);

/** What a subscription sends for one event: the row as it is now, read with fresh loaders. */
async function afresh<T>(
  event: LiveEvent,
  context: GraphQLContext,
  load: (id: string) => Promise<T | null | undefined>,
  what: string,
): Promise<T> {
  if (event === KEY_REVOKED) {
    throw new HandledError(ErrorCode.UNAUTHENTICATED, "The API key of this subscription no longer works.");
  }
  context.renew();
  const row = await load(event);
  if (!row) throw new HandledError(ErrorCode.NOT_FOUND, `The ${what} "${event}" was deleted.`);
  return row;
}

/** A task run's state at the version it was read at, when what was loaded with it is not that one. */
async function stateAtVersion(run: TaskRunRow, loaders: Loaders): Promise<StateRow> {
  const loaded = run.loadedState ?? (await loaders.taskRun.load(run.id))?.loadedState;
  if (loaded?.version === run.version) return loaded;
  return (await loaders.stateAt.load({ taskRunId: run.id, version: run.version }))!;
}

/**
 * Thin resolvers: each root field is one service call or lookup. Nested fields read through
 * the request's loaders, so a level of the query costs one statement however many items it has.
 */
export const resolvers: Resolvers = {
  JSON: JSONResolver,
  SafeInt: SafeIntResolver,
  DateTime,
  // GraphQL's names for the codecs, to the names results are stored with.
  Codec: { GZIP: "gzip", ZSTD: "zstd", AES_256_GCM: "aes-256-gcm" },

  Query: {
    flows: async (_root, { first, after, nameContains }, { flows, scope }) => {
      const size = pageSize(first, DEFAULT_PAGE_SIZES.flows);
      const [time, id] = after ? decodeCursor(after, isTimeAndId) : [];
      const rows = await flows.listFlows(
        scope,
        size + 1,
        time === undefined ? null : { createdAt: new Date(time), id: id! },
        nameContains,
      );
      return toPage(rows, size, (flow) => [flow.createdAt.toISOString(), flow.id], time !== undefined);
    },
    flow: (_root, { id }, { loaders }) => byId(id, (id) => loaders.flow.load(id)),
    flowRun: (_root, { id }, { loaders }) => byId(id, (id) => loaders.flowRun.load(id)),
    taskRun: (_root, { id }, { loaders }) => byId(id, (id) => loaders.taskRun.load(id)),
    apiKeys: (_root, _args, { keys, caller }) => {
      requireScope(caller, "admin");
      return keys.listIn(caller.scope);
    },
  },

  Mutation: {
    createFlow: (_root, { input }, { flows, scope }) => flows.createFlow(scope, input),
    createFlowRun: (_root, { input }, { flows, scope }) =>
      flows.createFlowRun(scope, input.flowId, input.parameters ?? []),
    setTaskRunStates: (_root, { input }, { states, scope }) => states.setTaskRunStates(scope, input),
    deleteFlowRun: (_root, { id }, { lifecycle, scope }) => lifecycle.deleteFlowRun(scope, id),
    deleteFlow: (_root, { id }, { lifecycle, scope }) => lifecycle.deleteFlow(scope, id),
    prepareResultUpload: (_root, args, { transfers, scope, origin }) => transfers.prepareUpload(scope, args, origin),
    createApiKey: async (_root, { input }, { keys, caller }) => {
      requireScope(caller, "admin");
      const scope = input.scope.toLowerCase() as KeyScope;
      const { key, info } = await keys.createIn(caller.scope, {
        name: input.name,
        scope,
        expiresAt: input.expiresAt ?? null,
      });
      return { key, apiKey: info };
    },
    revokeApiKey: async (_root, { id }, { keys, caller }) => {
      requireScope(caller, "admin");
      return (await keys.revoke(id, caller.scope)) ?? null;
    },
  },

  // Each event is read afresh (renew: loaders that cache nothing from the event before), as it is
  // when it is sent; the subscription sees only its project, as queries do.
  Subscription: {
    taskRunStateChanged: {
      subscribe: async (_root, { flowRunId }, { live, loaders, scope, stillAllowed }) => {
        if (!(await byId(flowRunId, (id) => loaders.flowRun.load(id)))) {
          throw new HandledError(ErrorCode.NOT_FOUND, `No flow run has the id "${flowRunId}".`);
        }
        return live.taskRuns(scope, flowRunId, stillAllowed);
      },
      resolve: (event: LiveEvent, _args: unknown, context: GraphQLContext) =>
        afresh(event, context, (id) => context.loaders.taskRun.load(id), "task run"),
    },
    flowRunsChanged: {
      subscribe: async (_root, { flowId }, { live, loaders, scope, stillAllowed }) => {
        if (flowId != null && !(await byId(flowId, (id) => loaders.flow.load(id)))) {
          throw new HandledError(ErrorCode.NOT_FOUND, `No flow has the id "${flowId}".`);
        }
        return live.flowRuns(scope, flowId ?? null, stillAllowed);
      },
      resolve: (event: LiveEvent, _args: unknown, context: GraphQLContext) =>
        afresh(event, context, (id) => context.loaders.flowRun.load(id), "flow run"),
    },
  },

  // Edges are made from the page's nodes only when a query asks for them.
  FlowConnection: { edges: edgesOf },
  FlowRunConnection: { edges: edgesOf },
  TaskRunConnection: { edges: edgesOf },
  StateConnection: { edges: edgesOf },

  ApiKey: {
    scope: (key) => (highestScope(key.scopes) ?? "read").toUpperCase() as "READ" | "WRITE" | "ADMIN",
  },

  Flow: {
    handler: (flow) => storedSpec(flow) ?? null,
    tasks: (flow, _args, { loaders }) => loaders.tasksOfFlow.load(flow.id),
    runs: (flow, { first, after, state }, { loaders }) =>
      loaders.runsOfFlow.load({
        parent: flow.id,
        size: pageSize(first, DEFAULT_PAGE_SIZES.runs),
        after: after ? decodeCursor(after, isTimeAndId) : null,
        state,
      }),
  },

  Task: {
    handler: (task) => storedSpec(task) ?? null,
    resolvedHandler: async (task, _args, { loaders, defaultHandler }) =>
      resolveResultHandler(task, (await loaders.flow.load(task.flowId))!, defaultHandler),
  },

  FlowRun: {
    flow: async (run, _args, { loaders }) => (await loaders.flow.load(run.flowId))!,
    state: (run, _args, { loaders }) => run.loadedState ?? loaders.flowRunState.load(run.id),
    taskRuns: async (run, { first, after }, context, info) => {
      const page = await context.loaders.taskRunsOfFlowRun.load({
        parent: run.id,
        size: pageSize(first, DEFAULT_PAGE_SIZES.taskRuns),
        after: after ? decodeCursor(after, isNumber)[0] : null,
      });
      const reading = selectsValues(info) ? readValuesAhead(page.nodes, context) : undefined;
      if (reading) await reading;
      return page;
    },
    parameters: (run, _args, { loaders }) => loaders.parametersOfFlowRun.load(run.id),
  },

  Parameter: {
    result: (parameter) => parameter.result ?? NO_RESULT,
  },

  TaskRun: {
    task: async (run, _args, { loaders }) => (await loaders.task.load(run.taskId))!,
    flowRun: async (run, _args, { loaders }) => (await loaders.flowRun.load(run.flowRunId))!,
    // The state of the version this task run was read at: loaded with it (given at once, so a
    // page of task runs completes without a promise each), or with the other task runs of this
    // request; looked up alone only if it has moved on since.
    state: (run, _args, { loaders }) => loadedCurrentState(run) ?? stateAtVersion(run, loaders),
    states: (run, { first, after }, { loaders }) =>
      loaders.statesOfTaskRun.load({
        parent: run.id,
        size: pageSize(first, DEFAULT_PAGE_SIZES.states),
        after: after ? decodeCursor(after, isNumber)[0] : null,
      }),
  },

  State: {
    result: (state, _args, { loaders }) => {
      if (state.loadedResult !== undefined) return state.loadedResult ?? NO_RESULT;
      return state.resultId ? loaders.result.load(state.resultId).then((result) => result!) : NO_RESULT;
    },
    cachedInputs: (state, _args, { loaders }) => loaders.cachedInputsOfState.load(state.id),
  },

  CachedInput: {
    upstreamTaskRun: async (input, _args, { loaders }) => (await loaders.taskRun.load(input.upstreamTaskRunId))!,
    result: async (input, _args, { loaders }) => (await loaders.result.load(input.resultId))!,
  },

  ResultHandler: {
    codecs: (spec) => spec.codecs ?? [],
  },

  ResultOrNone: {
    __resolveType: (result) => ("noResult" in result ? "NoResult" : "Result"),
  },

  Result: {
    handler: (result) => {
      try {
        return specFromRow(result.handlerType, result.handlerConfig);
      } catch (cause) {
        throw new HandledError(ErrorCode.RESULT_READ_FAILED, "The stored handler of this result is invalid.", {
          cause,
        });
      }
    },
    sizeBytes: (result) => (result.sizeBytes === null ? null : Number(result.sizeBytes)),
    storedBytes: (result) => {
      const stored = result.storedBytes ?? result.sizeBytes;
      return stored === null ? null : Number(stored);
    },
    codecs: (result) => result.codecs as Codec[],
    // Read from storage only when selected (or read ahead with its page's task runs, when the
    // query selects it); a failure is an error on this field alone.
    value: (result, _args, { results, budget, reach, scope }) => {
      const ahead = takeReadAhead(result);
      return ahead === undefined ? results.read(result, budget, () => reach.of(scope)) : ahead.value;
    },
    downloadUrl: (result, { expiresIn, viaApi }, { transfers, scope, origin }) =>
      transfers.downloadUrl(scope, result, { expiresIn, viaApi: viaApi ?? false }, origin),
    preview: async (result, { maxBytes }, { results, budget, reach, scope }) => {
      if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_PREVIEW_BYTES) {
        throw new HandledError(
          ErrorCode.BAD_USER_INPUT,
          `"maxBytes" must be 1 to ${MAX_PREVIEW_BYTES}, not ${maxBytes}.`,
        );
      }
      return results.preview(result, maxBytes, budget, await reach.of(scope));
    },
  },
};
