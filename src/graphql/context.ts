import type { PrismaClient } from "../generated/prisma/client.js";
import type { HandlerSpec } from "../results/handler-spec.js";
import type { ResultStore } from "../results/result-store.js";
import type { FlowService } from "../services/flows.js";
import type { StateService } from "../services/states.js";
import type { Loaders } from "./loaders.js";

/** The services, built once per server. */
export interface Services {
  prisma: PrismaClient;
  /** Plain SQL on the pool under Prisma, for hot reads (see Database.pool). */
  sql: <T>(text: string, values: readonly unknown[]) => Promise<T[]>;
  results: ResultStore;
  flows: FlowService;
  states: StateService;
  defaultHandler: HandlerSpec;
}

/** What every resolver gets: the services, and the loaders of its own request. */
export interface GraphQLContext extends Services {
  loaders: Loaders;
}
