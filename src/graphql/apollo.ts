import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import type { ApolloServerPlugin } from "@apollo/server";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import type { Server } from "node:http";
import { describeDatabaseError, isDatabaseUnavailable } from "../db/errors.js";
import { ErrorCode, HandledError } from "../errors.js";
import { projectFile } from "../project-files.js";
import type { GraphQLContext } from "./context.js";
import { graphiqlLandingPage } from "./graphiql.js";
import { resolvers } from "./resolvers.js";

/** The SDL the API serves, read from the repository's schema.graphql. */
export const typeDefs = readFileSync(projectFile("schema.graphql"), "utf8");

/**
 * Failures of the service's storage, logged as they are reported (not clients' mistakes).
 * Database failures are logged where they are recognised: below, or by the state service.
 */
const OPERATIONAL_FAILURES = new Set<string>([ErrorCode.STORE_TIMEOUT, ErrorCode.RESULT_READ_FAILED, ErrorCode.RESULT_WRITE_FAILED]);

/**
 * Shapes every error sent to clients: a HandledError keeps its message and stable code;
 * GraphQL's own errors (parse, validation, bad variables) pass through; anything else is an
 * internal error whose details go to the log only.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof HandledError) {
    if (OPERATIONAL_FAILURES.has(original.code)) {
      // The store's side of it (an error name or code), never a value.
      const cause = original.cause as { name?: unknown; code?: unknown } | undefined;
      const detail = [cause?.name, cause?.code].filter((part) => typeof part === "string" || typeof part === "number").join(" ");
      console.error(`${original.code} at ${formatted.path?.join(".") ?? "the request"}: ${original.message}${detail ? ` (${detail})` : ""}`);
    }
    return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { code: original.code } };
  }
  const code = formatted.extensions?.code;
  if ((code === "INTERNAL_SERVER_ERROR" || code === undefined) && isDatabaseUnavailable(original)) {
    console.error(`database unavailable (${describeDatabaseError(original)}) at ${formatted.path?.join(".") ?? "the request"}`);
    return {
      message: "The database is unavailable or did not answer in time; retry later.",
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.DATABASE_UNAVAILABLE },
    };
  }
  if (code === "INTERNAL_SERVER_ERROR" || code === undefined) {
    console.error("internal error", original);
    return {
      message: "Internal server error.",
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: "INTERNAL_SERVER_ERROR" },
    };
  }
  return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code } };
}

/**
 * The schema has no subscriptions, and graphql-js would fail such an operation as an internal
 * error: it is refused up front, as a client's mistake.
 */
const queriesAndMutationsOnly: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (!operation || operation.operation === "query" || operation.operation === "mutation") return;
        throw new GraphQLError(`This API serves queries and mutations, not ${operation.operation}s.`, {
          extensions: { code: ErrorCode.OPERATION_NOT_SUPPORTED, http: { status: 400 } },
        });
      },
    };
  },
};

/** Options of the API's Apollo Server. */
export interface ApolloOptions {
  /** Serve GraphiQL to a browser opening the endpoint (development), or no page at all. */
  graphiql: boolean;
}

export function createApolloServer(httpServer: Server, options: ApolloOptions): ApolloServer<GraphQLContext> {
  const landingPage = (options.graphiql && graphiqlLandingPage()) || ApolloServerPluginLandingPageDisabled();
  return new ApolloServer<GraphQLContext>({
    typeDefs,
    resolvers,
    formatError,
    includeStacktraceInErrorResponses: false,
    // GraphiQL needs the schema; otherwise Apollo's default holds (off when NODE_ENV=production).
    ...(options.graphiql ? { introspection: true } : {}),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // The API sets no cache hints; left on, this plugin wraps every resolver of every request.
      ApolloServerPluginCacheControlDisabled(),
      queriesAndMutationsOnly,
      landingPage,
    ],
  });
}
