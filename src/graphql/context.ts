import type { Queries } from "../db/queries.js";
import type { Scope } from "../db/rows.js";
import type { HandlerSpec } from "../results/handler-spec.js";
import { ResponseBudget, type ResponseBudgetLimits } from "../results/response-budget.js";
import type { ResultStore } from "../results/result-store.js";
import type { ApiKeyService, Caller } from "../services/api-keys.js";
import type { FlowService } from "../services/flows.js";
import type { LifecycleService } from "../services/lifecycle.js";
import type { LiveUpdates } from "../services/live.js";
import type { ReachService } from "../services/reach.js";
import type { StateService } from "../services/states.js";
import type { TransferService } from "../services/transfers.js";
import { createLoaders, type Loaders } from "./loaders.js";

/**
 * What the request log line and metrics say of a GraphQL request: its operation and the codes
 * of the errors it answered with. Filled in by Apollo, read when the response has been sent.
 */
export interface RequestTrace {
  operationName?: string;
  errorCodes: string[];
  /** A subscription's stream: it lasts as long as the client stays, so it is not timed as a request. */
  stream?: boolean;
}

/** The services, built once per server. */
export interface Services {
  /** The data-access layer: only the request's loaders reach it (resolvers never do). */
  queries: Queries;
  results: ResultStore;
  flows: FlowService;
  states: StateService;
  keys: ApiKeyService;
  /** Deletion of flows and runs, and of the objects their results point at. */
  lifecycle: LifecycleService;
  /** Where each project's handlers may go. */
  reach: ReachService;
  /** Uploads and downloads of large results, beside GraphQL. */
  transfers: TransferService;
  /** What subscriptions are given: every replica's changes, heard over PostgreSQL LISTEN. */
  live: LiveUpdates;
  defaultHandler: HandlerSpec;
  /** What one response may read from storage. */
  responseLimits: ResponseBudgetLimits;
}

/** What every resolver gets: the services, and the loaders and read budget of its own request. */
export interface GraphQLContext extends Omit<Services, "queries"> {
  loaders: Loaders;
  budget: ResponseBudget;
  /** What the request's log line and metrics will say of it. */
  trace: RequestTrace;
  /** The request's id (x-request-id), for its log lines. */
  requestId: string;
  /** The caller's project: every read and write of the request stays within it. */
  scope: Scope;
  /** Who is calling, and what it may do. */
  caller: Caller;
  /** The API's address as this caller reaches it (scheme://host[:port]), for URLs it is given. */
  origin: string;
  /**
   * Starts afresh: new loaders and read budget. A subscription calls it for each event, so that
   * every event is read as it is then, and each has a response's budget.
   */
  renew(): void;
  /** For a subscription: whether its API key still works (checked before each event); none when auth is off. */
  stillAllowed?: () => Promise<boolean>;
}

/** The context of one request: its own loaders (nothing is cached across requests) and read budget. */
export function createContext(
  services: Services,
  request: {
    requestId: string;
    trace: RequestTrace;
    caller: Caller;
    origin: string;
    stillAllowed?: () => Promise<boolean>;
  },
): GraphQLContext {
  const { requestId, trace, caller, origin, stillAllowed } = request;
  const { queries, ...shared } = services;
  const { scope } = caller;
  const context: GraphQLContext = {
    ...shared,
    scope,
    caller,
    loaders: createLoaders(queries, scope),
    budget: new ResponseBudget(services.responseLimits),
    trace,
    requestId,
    origin,
    renew() {
      context.loaders = createLoaders(queries, scope);
      context.budget = new ResponseBudget(services.responseLimits);
    },
    ...(stillAllowed ? { stillAllowed } : {}),
  };
  return context;
}
