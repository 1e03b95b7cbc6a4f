import { readFileSync } from "node:fs";
import type { ApolloServerPlugin } from "@apollo/server";
import { ApolloServer } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import { makeExecutableSchema } from "@graphql-tools/schema";
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema, type OperationDefinitionNode } from "graphql";
import type { QueryLimits } from "../config/config.js";
import { describeDatabaseError, isDatabaseUnavailable } from "../db/errors.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Logger } from "../logger.js";
import { projectFile } from "../project-files.js";
import { integrityFailureOf } from "../results/integrity.js";
import { storageFailureOf } from "../results/observed-handler.js";
import { authorize } from "./authorization.js";
import type { GraphQLContext } from "./context.js";
import { graphiqlLandingPage } from "./graphiql.js";
import { checkCost, isTokenLimit, LIMIT_CODES, limitRules, withoutSuggestions } from "./limits.js";
import { resolvers } from "./resolvers.js";
import { stringifyResult } from "./response-pieces.js";

/** The SDL the API serves, read from the repository's schema.graphql. */
export const typeDefs = readFileSync(projectFile("schema.graphql"), "utf8");

/** The executable schema: one for queries and mutations (Apollo) and subscriptions (graphql-sse). */
export function createSchema(): GraphQLSchema {
  return makeExecutableSchema({ typeDefs, resolvers });
}

/**
 * Shapes every error sent to clients: a HandledError keeps its message and stable code;
 * GraphQL's own errors (parse, validation, bad variables) pass through, a query refused by a
 * limit with the limit's own code and, without `suggestions`, with no "Did you mean" naming parts
 * of the schema; a database that cannot be reached is DATABASE_UNAVAILABLE; anything else is an
 * internal error whose details go to the log only (see `logging`).
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  suggestions: boolean,
): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const limit = refusedByLimit(formatted, original);
  if (limit) return { message: limit.message, locations: formatted.locations, extensions: { code: limit.code } };
  if (!suggestions && typeof formatted.message === "string") {
    formatted = { ...formatted, message: withoutSuggestions(formatted.message) };
  }
  if (original instanceof HandledError) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: original.code },
    };
  }
  const code = formatted.extensions?.code;
  if ((code === "INTERNAL_SERVER_ERROR" || code === undefined) && isDatabaseUnavailable(original)) {
    return {
      message: "The database is unavailable or did not answer in time; retry later.",
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.DATABASE_UNAVAILABLE },
    };
  }
  if (code === "INTERNAL_SERVER_ERROR" || code === undefined) {
    return {
      message: "Internal server error.",
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: "INTERNAL_SERVER_ERROR" },
    };
  }
  return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code } };
}

/** The limit a document was refused by, with its code and message; none for other errors. */
function refusedByLimit(
  formatted: GraphQLFormattedError,
  original: unknown,
): { code: string; message: string } | undefined {
  const code = formatted.extensions?.code;
  if (code === "GRAPHQL_VALIDATION_FAILED") {
    // Duck-typed: the rules may see another copy of graphql-js than this module (CJS and ESM).
    const limitCode = (original as { originalError?: { extensions?: { code?: unknown } } }).originalError?.extensions
      ?.code;
    if (typeof limitCode === "string" && LIMIT_CODES.has(limitCode))
      return { code: limitCode, message: formatted.message };
  }
  if (code === "GRAPHQL_PARSE_FAILED" && isTokenLimit(formatted.message)) {
    const tokens = /more th(?:an|at) (\d+) tokens/.exec(formatted.message)?.[1];
    return {
      code: ErrorCode.QUERY_TOO_LARGE,
      message: `The document has more than ${tokens} tokens (HANDLED_MAX_QUERY_TOKENS); it was not parsed further.`,
    };
  }
  return undefined;
}

/**
 * Fills each request's RequestTrace, and logs, once and with the request's id, the failures an
 * operator must see: storage failures with the handler and the place, database failures, and
 * internal errors (where they were thrown, not their message: a message can quote data).
 * Clients' mistakes are only counted, in the request's line.
 */
function logging(logger: Logger): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operationName, contextValue }) {
          contextValue.trace.operationName = operationName ?? undefined;
        },
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            const original = unwrapResolverError(error);
            const at = error.path?.join(".");
            const failure = storageFailureOf(original);
            const requestId = contextValue.requestId;
            // A client's mistake, or a coded failure of the data: counted in the request's line only.
            const coded =
              original instanceof HandledError ||
              (error.extensions?.code !== undefined && error.extensions.code !== "INTERNAL_SERVER_ERROR");
            if (failure) {
              logger.error(
                { requestId, ...failure, at },
                `result ${failure.call} failed: ${original instanceof HandledError ? original.message : "unexpected error"}`,
              );
            } else if (integrityFailureOf(original)) {
              logger.error(
                { requestId, at, ...integrityFailureOf(original) },
                `result integrity check failed: ${(original as Error).message}`,
              );
            } else if (original instanceof HandledError && original.code === ErrorCode.RESULT_KEY_UNAVAILABLE) {
              // A key the server was given is missing: the operator's to restore (names the key's id only).
              logger.warn({ requestId, at }, `result key unavailable: ${original.message}`);
            } else if (coded) {
              // Nothing for an operator to do.
            } else if (isDatabaseUnavailable(original)) {
              logger.error({ requestId, at, cause: describeDatabaseError(original) }, "database unavailable");
            } else {
              const where =
                original instanceof Error
                  ? { name: original.name, stack: original.stack?.split("\n").slice(1).join("\n") }
                  : { type: typeof original };
              logger.error({ requestId, at, err: where }, "internal error");
            }
          }
        },
        async willSendResponse({ response, contextValue, request }) {
          const trace = contextValue.trace;
          trace.operationName ??= request.operationName;
          if (response.body.kind !== "single") return;
          for (const error of response.body.singleResult.errors ?? []) {
            const code = error.extensions?.code;
            if (typeof code === "string" && !trace.errorCodes.includes(code)) trace.errorCodes.push(code);
          }
        },
      };
    },
  };
}

/**
 * Subscriptions are served as streams at /graphql/stream, not here, where graphql-js would fail
 * one as an internal error: it is refused up front, as a client's mistake.
 */
function queriesAndMutationsOnly(operation: OperationDefinitionNode): void {
  if (operation.operation === "query" || operation.operation === "mutation") return;
  throw new GraphQLError(
    `This endpoint serves queries and mutations; subscriptions are served at /graphql/stream (Server-Sent Events, the graphql-sse protocol).`,
    { extensions: { code: ErrorCode.OPERATION_NOT_SUPPORTED, http: { status: 400 } } },
  );
}

/**
 * The checks of an operation once it is known, before anything runs, in one hook (each plugin
 * hook costs every request): its type, the caller's scope, its cost.
 */
function operationChecks(maxCost: number): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue, schema, document, request }) {
          if (!operation) return;
          queriesAndMutationsOnly(operation);
          authorize(operation, contextValue.caller);
          checkCost(maxCost, schema, document, request.variables ?? {}, request.operationName ?? undefined);
        },
      };
    },
  };
}

/** Options of the API's Apollo Server. */
export interface ApolloOptions {
  /** The schema (createSchema). */
  schema: GraphQLSchema;
  /** Serve GraphiQL to a browser opening the endpoint (development), or no page at all. */
  graphiql: boolean;
  /** Answer introspection queries (GraphiQL needs them). */
  introspection: boolean;
  /** Keep GraphQL's "Did you mean ...?" suggestions in error messages (they name parts of the schema). */
  fieldSuggestions: boolean;
  /** How large a document may be. */
  limits: QueryLimits;
  logger: Logger;
}

/** The API's Apollo Server; the HTTP front (src/http/server.ts) drains connections itself. */
export function createApolloServer(options: ApolloOptions): ApolloServer<GraphQLContext> {
  const landingPage =
    (options.graphiql && graphiqlLandingPage(options.logger)) || ApolloServerPluginLandingPageDisabled();
  return new ApolloServer<GraphQLContext>({
    schema: options.schema,
    formatError: (formatted, error) => formatError(formatted, error, options.fieldSuggestions),
    validationRules: limitRules(options.limits),
    parseOptions: { maxTokens: options.limits.maxTokens },
    logger: options.logger,
    // The service stops Apollo itself, after the HTTP front has drained (src/app.ts).
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    introspection: options.introspection,
    // Automatic persisted queries would let any caller fill a cache with documents of its own;
    // the SDK names its operations by documentId instead (see the HTTP front).
    persistedQueries: false,
    // A large response is sent in pieces, never made into one string (./response-pieces.ts).
    stringifyResult,
    plugins: [
      logging(options.logger),
      // The API sets no cache hints; left on, this plugin wraps every resolver of every request.
      ApolloServerPluginCacheControlDisabled(),
      operationChecks(options.limits.maxCost),
      landingPage,
    ],
  });
}
