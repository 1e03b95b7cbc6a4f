import type pg from "pg";
import type { PrismaClient } from "../generated/prisma/client.js";
import type { HandlerSpec } from "../results/handler-spec.js";
import type { ResponseBudget, ResponseBudgetLimits } from "../results/response-budget.js";
import type { ResultStore } from "../results/result-store.js";
import type { FlowService } from "../services/flows.js";
import type { StateService } from "../services/states.js";
import type { RequestTrace } from "./apollo.js";
import type { Loaders } from "./loaders.js";

/** The services, built once per server. */
export interface Services {
  prisma: PrismaClient;
  /** The pool under Prisma's adapter, for the hot statements that are plain SQL (Database.pool). */
  pool: pg.Pool;
  results: ResultStore;
  flows: FlowService;
  states: StateService;
  defaultHandler: HandlerSpec;
  /** What one response may read from storage. */
  responseLimits: ResponseBudgetLimits;
}

/** What every resolver gets: the services, and the loaders and read budget of its own request. */
export interface GraphQLContext extends Services {
  loaders: Loaders;
  budget: ResponseBudget;
  /** What the request's log line and metrics will say of it. */
  trace: RequestTrace;
  /** The request's id (x-request-id), for its log lines. */
  requestId: string;
}
