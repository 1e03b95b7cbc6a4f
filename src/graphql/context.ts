import type { PrismaClient } from "../generated/prisma/client.js";
import type { HandlerSpec } from "../results/handler-spec.js";
import type { ResultStore } from "../results/result-store.js";
import type { FlowService } from "../services/flows.js";
import type { StateService } from "../services/states.js";

/** What every resolver gets: the services, built once per server (nothing per request). */
export interface GraphQLContext {
  prisma: PrismaClient;
  results: ResultStore;
  flows: FlowService;
  states: StateService;
  defaultHandler: HandlerSpec;
}
