import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from "fastify";
import {
  type DocumentNode,
  type ExecutionResult,
  execute,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  getOperationAST,
  parse,
  specifiedRules,
  subscribe,
  validate,
} from "graphql";
import { createHandler } from "graphql-sse/lib/use/fastify";
import type { QueryLimits } from "../config/config.js";
import { ErrorCode, HandledError } from "../errors.js";
import { formatError } from "../graphql/apollo.js";
import { authorize } from "../graphql/authorization.js";
import { createContext, type GraphQLContext, type RequestTrace, type Services } from "../graphql/context.js";
import { checkCost, limitRules } from "../graphql/limits.js";
import type { Logger } from "../logger.js";
import type { Caller } from "../services/api-keys.js";
import { trustedDocumentOf } from "./trusted-documents.js";

export interface SubscriptionRoutesOptions {
  schema: GraphQLSchema;
  services: Services;
  limits: QueryLimits;
  fieldSuggestions: boolean;
  trustedDocuments: "only" | "off";
  /** Sets the request's caller from its API key; none when auth is off. */
  authenticate: preHandlerHookHandler | undefined;
  callerOf: (request: FastifyRequest) => Caller;
  /** The API's address as clients reach it; each request's own when absent. */
  publicUrl: string | undefined;
  routeConfig: object;
  logger: Logger;
}

/** graphql-sse's handler wants a context it may index; the resolvers' context is one. */
type StreamContext = GraphQLContext & Record<PropertyKey, unknown>;

/**
 * What is sent for an event with errors: the errors as /graphql shapes them. graphql-sse types a
 * result's errors as GraphQLError objects, but sends whatever it is given as JSON.
 */
const withFormattedErrors = (result: object, errors: GraphQLFormattedError[]) =>
  ({ ...result, errors }) as unknown as ExecutionResult;

/** A parse or validation error with the code /graphql gives it (Apollo's), as formatError expects. */
function coded(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

/** A refusal before any stream starts: a JSON body with the error, as /graphql answers. */
function refusal(status: number, code: string, message: string) {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  return [body, { status, statusText: code, headers: { "content-type": "application/json; charset=utf-8" } }] as const;
}

/**
 * GraphQL subscriptions over Server-Sent Events at /graphql/stream (graphql-sse, its "distinct
 * connections" mode: one request per subscription, GET or POST). A subscription is checked as a
 * query is (its key, trusted documents, the document limits and cost), then streams one event per
 * change until the client goes, the key stops working, or the server stops.
 */
export function registerSubscriptionRoutes(app: FastifyInstance, options: SubscriptionRoutesOptions): void {
  const { schema, services, limits, logger } = options;
  const format = (error: GraphQLError): GraphQLFormattedError =>
    formatError(error.toJSON(), error, options.fieldSuggestions);
  // `data: null`: what graphql-sse takes for a result to send (as one event) rather than run.
  const failed = (errors: readonly GraphQLError[]) => withFormattedErrors({ data: null }, errors.map(format));

  const handler = createHandler<StreamContext>({
    // This module's graphql-js, which built the schema: graphql-sse's own import may be another
    // copy of it (ES module or CommonJS), and a schema is refused by another copy's functions.
    execute,
    subscribe,
    validate,
    onSubscribe: (req, params) => {
      const request = req.raw;
      const caller = options.callerOf(request);
      // One of the SDK's operations, named by the documentId its subscribe sends in `extensions`
      // (as /graphql takes it in the body), runs that operation's text.
      const trusted = trustedDocumentOf(
        params.extensions?.documentId,
        request.caller,
        options.trustedDocuments === "only",
      );
      if (trusted && "refusal" in trusted) return refusal(403, ErrorCode.DOCUMENT_NOT_TRUSTED, trusted.refusal);
      const query = trusted?.text ?? params.query;
      let document: DocumentNode;
      try {
        document = parse(query, { maxTokens: limits.maxTokens });
      } catch (error) {
        return failed([coded(error as GraphQLError, "GRAPHQL_PARSE_FAILED")]);
      }
      const invalid = validate(schema, document, [...specifiedRules, ...limitRules(limits)]);
      if (invalid.length > 0) return failed(invalid.map((error) => coded(error, "GRAPHQL_VALIDATION_FAILED")));
      const operation = getOperationAST(document, params.operationName);
      if (!operation) {
        return failed([new GraphQLError("The document names no operation to run, or several without operationName.")]);
      }
      try {
        if (operation.operation !== "subscription") {
          throw new GraphQLError("This endpoint serves subscriptions; send queries and mutations to /graphql.", {
            extensions: { code: ErrorCode.OPERATION_NOT_SUPPORTED },
          });
        }
        authorize(operation, caller);
        checkCost(limits.maxCost, schema, document, params.variables ?? {}, params.operationName);
      } catch (error) {
        return failed([error as GraphQLError]);
      }
      // The request's log line (written when the stream ends) names the operation and its errors' codes.
      const trace: RequestTrace = { errorCodes: [], operationName: operation.name?.value, stream: true };
      request.trace = trace;
      const authorization = request.headers.authorization;
      const contextValue = createContext(services, {
        requestId: request.id,
        trace,
        caller,
        origin: options.publicUrl ?? `${request.protocol}://${request.host}`,
        // A key revoked or expired ends its subscriptions; a database that cannot answer does not.
        ...(request.caller
          ? {
              stillAllowed: () =>
                services.keys.authenticate(authorization).then(
                  () => true,
                  (error: unknown) => !(error instanceof HandledError && error.code === ErrorCode.UNAUTHENTICATED),
                ),
            }
          : {}),
      }) as StreamContext;
      return {
        schema,
        document,
        operationName: params.operationName,
        variableValues: params.variables,
        contextValue,
      };
    },
    onNext: (context: StreamContext | undefined, _req, result) => {
      // Without a context: a refusal of onSubscribe's, its errors already shaped.
      if (!context || !result.errors?.length) return result;
      for (const error of result.errors) {
        const code = format(error as GraphQLError).extensions?.code;
        if (typeof code === "string" && !context.trace.errorCodes.includes(code)) context.trace.errorCodes.push(code);
        if (code === "INTERNAL_SERVER_ERROR" || code === ErrorCode.DATABASE_UNAVAILABLE) {
          logger.error({ requestId: context.requestId, at: error.path?.join("."), code }, "subscription event failed");
        }
      }
      return withFormattedErrors(
        result,
        result.errors.map((error) => format(error as GraphQLError)),
      );
    },
  });

  // Streams open now. When the server stops, they are cut rather than completed, so that clients
  // open them again, on another replica (a completed subscription is not opened again).
  const open = new Set<FastifyReply["raw"]>();
  app.addHook("preClose", async () => {
    for (const response of open) response.destroy();
  });
  // Likewise when this replica may have missed changes (its listening connection was lost): the
  // clients reconnect, and read again what they show (the SDK's `connected(true)`).
  services.live.onResume(() => {
    if (open.size > 0)
      logger.info({ streams: open.size }, "changes may have been missed; cutting streams so that clients read again");
    for (const response of open) response.destroy();
  });
  const stream = async (request: FastifyRequest, reply: FastifyReply) => {
    // The stream is written by graphql-sse, to the socket: Fastify sends nothing more.
    reply.hijack();
    open.add(reply.raw);
    reply.raw.once("close", () => open.delete(reply.raw));
    try {
      await handler(request, reply);
    } catch (error) {
      // Where it was thrown, not its message: a message can quote data.
      const { name, stack } = error as Error;
      logger.error(
        { requestId: request.id, err: { name, stack: stack?.split("\n").slice(1).join("\n") } },
        "subscription failed",
      );
      if (reply.raw.headersSent) reply.raw.destroy();
      else {
        reply.raw.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        reply.raw.end(
          JSON.stringify({
            errors: [{ message: "The subscription failed.", extensions: { code: "INTERNAL_SERVER_ERROR" } }],
          }),
        );
      }
    }
  };
  app.route({
    method: ["GET", "POST"],
    url: "/graphql/stream",
    ...(options.authenticate ? { preHandler: options.authenticate } : {}),
    handler: stream,
    ...options.routeConfig,
  });
}
