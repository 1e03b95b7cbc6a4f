import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { ApolloServer } from "@apollo/server";
import { fastifyApolloHandler } from "@as-integrations/fastify";
import fastifyCors from "@fastify/cors";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";
import Fastify, {
  errorCodes,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
  type RouteHandlerMethod,
} from "fastify";
import type { GraphQLSchema } from "graphql";
import type { QueryLimits } from "../config/config.js";
import type { Scope } from "../db/rows.js";
import { withDeadline } from "../deadline.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { RequestTrace } from "../graphql/context.js";
import { createContext, type GraphQLContext, type Services } from "../graphql/context.js";
import { takePieces } from "../graphql/response-pieces.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { Caller } from "../services/api-keys.js";
import { sendError } from "./errors.js";
import { registerSubscriptionRoutes } from "./subscriptions.js";
import { registerTransferRoutes } from "./transfers.js";
import { trustedDocumentOf } from "./trusted-documents.js";

/** Options of the HTTP front of the API. */
export interface HttpServerOptions {
  apollo: ApolloServer<GraphQLContext>;
  /** The schema Apollo serves: subscriptions run on it too. */
  schema: GraphQLSchema;
  /** How large a document may be (subscriptions are checked here, queries by Apollo). */
  queryLimits: QueryLimits;
  /** Keep GraphQL's "Did you mean ...?" suggestions in error messages. */
  fieldSuggestions: boolean;
  /** The built results browser's folder, served at `/`; none: no page there. */
  uiDir: string | undefined;
  services: Services;
  /** required: every GraphQL request needs an API key; off: every caller is in `defaultScope`, with every scope. */
  auth: "required" | "off";
  /** The project callers are in when auth is off. */
  defaultScope: Scope;
  /** Requests one API key may make per minute (429 past it, with Retry-After); 0: no limit. */
  ratePerMinute: number;
  /** only: keys without admin may run only the SDK's operations, named by `documentId`; off: any document. */
  trustedDocuments: "only" | "off";
  logger: Logger;
  metrics: Metrics;
  /** Largest request body accepted, in bytes; larger ones get 413. */
  maxRequestBytes: number;
  /** Origins whose pages may call the API ("*": any); none: no CORS headers. */
  corsOrigins: string[] | "*";
  /** Serve GET /metrics here (false when it has a port of its own). */
  serveMetrics: boolean;
  /** Resolves when the service can take traffic: its database answers and is migrated. */
  checkReady: () => Promise<void>;
  /** True from the moment the service starts to stop: /readyz answers 503. */
  isDraining: () => boolean;
  /** How long /readyz waits for `checkReady` before answering 503, in milliseconds. */
  readyTimeoutMs: number;
  /** The API's address as clients reach it, for the URLs it hands out; each request's own when absent. */
  publicUrl: string | undefined;
}

/** Headers browser clients send with a GraphQL request, answered in CORS preflights. */
const CORS_HEADERS = [
  "content-type",
  "authorization",
  "apollo-require-preflight",
  "x-apollo-operation-name",
  "x-request-id",
];

/** A request id a client may choose: short, and nothing that could break a log line. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare module "fastify" {
  interface FastifyRequest {
    /** Set for GraphQL requests: what the log line and metrics say of the operation. */
    trace?: RequestTrace;
    /** Set for GraphQL requests: who is calling (from its API key, or the default project). */
    caller?: Caller;
  }
}

class BodyError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a request body of at most `limit` bytes, as Fastify's own reader does (413 past the
 * limit, 400 when it ends short of its Content-Length or breaks off), but into one buffer of the
 * declared length, made when the first bytes arrive and each chunk copied in as it comes:
 * Fastify's keeps every chunk until the end and then joins them, holding a large body twice.
 */
function readBody(payload: Readable, contentLength: string | undefined, limit: number): Promise<Buffer> {
  const declared = contentLength === undefined ? Number.NaN : Number(contentLength);
  if (declared > limit) return Promise.reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const known = Number.isSafeInteger(declared) && declared >= 0;
  let sized: Buffer | undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      payload.removeListener("data", onData);
      payload.removeListener("end", onEnd);
      payload.removeListener("error", onError);
      if (error) return reject(error);
      if (known && received !== declared) return reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      resolve(known ? (sized ?? Buffer.alloc(0)) : Buffer.concat(chunks, received));
    };
    const onData = (chunk: Buffer) => {
      if (received + chunk.length > (known ? declared : limit)) {
        return finish(
          known ? new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH() : new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(),
        );
      }
      if (known) {
        sized ??= Buffer.allocUnsafe(declared);
        chunk.copy(sized, received);
      } else {
        chunks.push(chunk);
      }
      received += chunk.length;
    };
    const onEnd = () => finish();
    const onError = (error: Error & { statusCode?: number }) => {
      if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) error.statusCode = 400;
      finish(error);
    };
    payload.on("data", onData);
    payload.on("end", onEnd);
    payload.on("error", onError);
    payload.resume();
  });
}

/** The body as text; invalid UTF-8 would otherwise become U+FFFD silently, and be stored so. */
function utf8Text(body: Buffer): string {
  if (!isUtf8(body)) throw new BodyError("BAD_USER_INPUT", "The request body is not valid UTF-8.");
  return body.toString("utf8");
}

/**
 * The API's HTTP front, on Fastify: POST/GET /graphql (Apollo Server), the probes /livez,
 * /readyz and /healthz, and GET /metrics. One log line per request, with its id, operation,
 * status, duration and error codes; never headers or bodies.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const { apollo, services, logger, metrics, maxRequestBytes } = options;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request is written below, with what Fastify's own two lines lack.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (pino's child costs every request): the lines written here
    // name the request's id themselves.
    childLoggerFactory: (parent) => parent,
    bodyLimit: maxRequestBytes,
    // Upload and download tokens travel in the path (PUT /uploads/<token>): a few hundred characters.
    routerOptions: { maxParamLength: 2048 },
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
    },
    // While stopping: requests on connections still open get 503 and `Connection: close`.
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });

  // JSON bodies: checked as UTF-8 first, parsed by JSON.parse. Other types reach Apollo as text,
  // which answers them (CSRF prevention, or a 400 naming the type).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", async (request: FastifyRequest, payload: Readable) => {
    const text = utf8Text(await readBody(payload, request.headers["content-length"], maxRequestBytes));
    try {
      return text === "" ? undefined : (JSON.parse(text) as unknown);
    } catch {
      throw new BodyError("BAD_REQUEST", "The request body is not valid JSON.");
    }
  });
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body: Buffer, done) => {
    try {
      done(null, utf8Text(body));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error: FastifyError | BodyError, request, reply) => {
    if (error instanceof BodyError) return sendError(reply, 400, error.code, error.message);
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      // The rest of an oversized body is not read; the connection is closed instead.
      reply.header("connection", "close");
      return sendError(reply, 413, "PAYLOAD_TOO_LARGE", `The request body is over ${maxRequestBytes} bytes.`);
    }
    const status = "statusCode" in error && typeof error.statusCode === "number" ? error.statusCode : 500;
    if (status === 429) return sendError(reply, 429, ErrorCode.RATE_LIMITED, error.message);
    if (status < 500) return sendError(reply, status, "BAD_REQUEST", error.message);
    logger.error(
      {
        requestId: request.id,
        err: { name: error.name, code: error.code, stack: error.stack?.split("\n").slice(1).join("\n") },
      },
      "request failed",
    );
    return sendError(reply, 500, "INTERNAL_SERVER_ERROR", "The request failed.");
  });
  app.setNotFoundHandler((_request, reply) =>
    sendError(
      reply,
      404,
      "NOT_FOUND",
      options.uiDir ? "The API is served at /graphql, the results browser at /." : "The API is served at /graphql.",
    ),
  );

  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  // While stopping, each answer closes its connection: clients reconnect to another replica,
  // and the drain does not wait for idle keep-alive connections.
  app.addHook("onSend", async (_request, reply) => {
    if (options.isDraining()) reply.header("connection", "close");
  });
  app.addHook("onResponse", async (request: FastifyRequest, reply: FastifyReply) => {
    const trace = request.trace;
    const durationMs = reply.elapsedTime;
    if (trace && !trace.stream) {
      const outcome = trace.errorCodes[0] ?? (reply.statusCode < 400 ? "ok" : `HTTP_${reply.statusCode}`);
      metrics.requestDuration.observe(
        { operation: metrics.operationLabel(trace.operationName), outcome },
        durationMs / 1000,
      );
    }
    const line = {
      requestId: request.id,
      method: request.method,
      path: request.routeOptions.url ?? "unmatched",
      status: reply.statusCode,
      durationMs: Math.round(durationMs * 10) / 10,
      ...(trace?.operationName ? { operation: trace.operationName } : {}),
      ...(trace?.errorCodes.length ? { errors: trace.errorCodes } : {}),
    };
    if (reply.statusCode >= 500) logger.warn(line, "request");
    else logger.info(line, "request");
  });

  if (options.corsOrigins === "*" || options.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: options.corsOrigins === "*" ? "*" : options.corsOrigins,
      // PUT: a page may send a result's bytes to an upload URL of this API (PUT /uploads/<token>).
      methods: ["GET", "POST", "PUT"],
      allowedHeaders: CORS_HEADERS,
      // What a page reading a download (GET /results/<id>) needs to resume it.
      exposedHeaders: ["x-request-id", "etag", "content-range", "accept-ranges", "content-length"],
      maxAge: 600,
    });
  }

  /** With auth off: every caller, in the default project, may do everything. */
  const everyone: Caller = { scope: options.defaultScope, can: "admin" };
  /** With auth on, a request let through without a key (GraphiQL's page): a project no row is in. */
  const nobody: Caller = { scope: { projectId: "00000000-0000-0000-0000-000000000000" }, can: "read" };
  const callerOf = (request: FastifyRequest) => request.caller ?? (options.auth === "off" ? everyone : nobody);
  // Typed by its library as answering strings only, although it sends a stream itself for an
  // incremental response; this route answers with streams too.
  const apolloHandler = fastifyApolloHandler<GraphQLContext>(apollo, {
    context: async (request) => {
      const trace: RequestTrace = { errorCodes: [] };
      request.trace = trace;
      return createContext(services, {
        requestId: request.id,
        trace,
        caller: callerOf(request),
        origin: options.publicUrl ?? `${request.protocol}://${request.host}`,
      });
    },
  }) as RouteHandlerMethod;
  /** Apollo's answer; one of more than a piece (src/graphql/response-pieces.ts) is sent piece by piece. */
  const graphql: RouteHandlerMethod = async function (request, reply) {
    const payload: unknown = await apolloHandler.call(this, request, reply);
    const pieces = typeof payload === "string" ? takePieces(payload) : undefined;
    if (pieces === undefined) return payload;
    let bytes = 0;
    for (const piece of pieces) bytes += Buffer.byteLength(piece);
    reply.header("content-length", bytes);
    return reply.send(Readable.from(pieces));
  };
  /**
   * Who is calling: the key's project and scope; 401 UNAUTHENTICATED for a missing or bad key. A
   * callback, not an async function: a key checked recently is answered without waiting on anything.
   */
  const authenticate = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    // A browser opening the endpoint gets GraphiQL's page (when it is on); its queries carry a key.
    const asksNothing = (request.query as { query?: unknown } | undefined)?.query === undefined;
    if (request.method === "GET" && asksNothing && String(request.headers.accept).includes("text/html")) return done();
    const refuse = (error: unknown) => {
      if (!(error instanceof HandledError)) return done(error as Error);
      sendError(reply.header("www-authenticate", 'Bearer realm="handled"'), 401, error.code, error.message);
    };
    const { authorization } = request.headers;
    try {
      const caller = services.keys.fromCache(authorization);
      if (caller) {
        request.caller = caller;
        return done();
      }
    } catch (error) {
      return refuse(error);
    }
    services.keys.authenticate(authorization).then((caller) => {
      request.caller = caller;
      done();
    }, refuse);
  };
  /**
   * A request naming one of the SDK's operations by `documentId` runs that operation's text,
   * whatever `query` it sends with it. With trusted documents only, a caller with a key but
   * without admin must POST one: 403 DOCUMENT_NOT_TRUSTED otherwise.
   */
  const trustedOnly = options.trustedDocuments === "only";
  const useDocumentId = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    // Only a POST body is read: Apollo reads a GET's query from the URL itself, so a GET is never
    // let through on a documentId.
    const params = (request.method === "POST" ? request.body : undefined) as Record<string, unknown> | null | undefined;
    const id = params?.documentId;
    const trusted = trustedDocumentOf(id, request.caller, trustedOnly);
    if (trusted && "text" in trusted) {
      params!.query = trusted.text;
      return done();
    }
    if (trusted) {
      sendError(reply, 403, ErrorCode.DOCUMENT_NOT_TRUSTED, trusted.refusal);
      return;
    }
    if (id !== undefined && params?.query === undefined) {
      sendError(
        reply,
        400,
        ErrorCode.DOCUMENT_NOT_FOUND,
        "The documentId names none of this server's SDK operations, and no query was sent.",
      );
      return;
    }
    done();
  };
  // Per key: requests are counted by the key they carry (callers without one are refused or, with
  // auth off, not limited), in this replica's memory. Only a refusal carries a header (Retry-After).
  const limited = options.auth === "required" && options.ratePerMinute > 0;
  if (limited) {
    const quiet = { "x-ratelimit-limit": false, "x-ratelimit-remaining": false, "x-ratelimit-reset": false } as const;
    await app.register(fastifyRateLimit, {
      global: false,
      keyGenerator: (request) => String(request.headers.authorization),
      allowList: (request) => !request.headers.authorization,
      addHeadersOnExceeding: quiet,
      addHeaders: { ...quiet, "retry-after": true },
      errorResponseBuilder: (_request, context) =>
        Object.assign(new Error(`Over ${context.max} requests a minute for this API key; retry in ${context.after}.`), {
          statusCode: 429,
        }),
    });
  }
  const rateLimited = limited ? { config: { rateLimit: { max: options.ratePerMinute, timeWindow: 60_000 } } } : {};
  app.route({
    method: ["GET", "POST"],
    url: "/graphql",
    preHandler: options.auth === "required" ? [authenticate, useDocumentId] : useDocumentId,
    handler: graphql,
    ...rateLimited,
  });
  registerSubscriptionRoutes(app, {
    schema: options.schema,
    services,
    limits: options.queryLimits,
    fieldSuggestions: options.fieldSuggestions,
    trustedDocuments: options.trustedDocuments,
    authenticate: options.auth === "required" ? authenticate : undefined,
    callerOf,
    publicUrl: options.publicUrl,
    routeConfig: rateLimited,
    logger,
  });
  if (options.uiDir) await registerUi(app, options.uiDir);
  await registerTransferRoutes(app, {
    transfers: services.transfers,
    authenticate: options.auth === "required" ? authenticate : undefined,
    callerOf,
    routeConfig: rateLimited,
    logger,
  });

  app.get("/livez", async () => ({ status: "ok" }));
  const ready = async (_request: FastifyRequest, reply: FastifyReply) => {
    if (options.isDraining()) return sendError(reply, 503, "SHUTTING_DOWN", "The service is stopping.");
    try {
      await withDeadline(options.checkReady(), options.readyTimeoutMs, "the database did not answer");
      return { status: "ok" };
    } catch {
      return sendError(
        reply,
        503,
        "DATABASE_UNAVAILABLE",
        `The database did not answer, or is not migrated, within ${options.readyTimeoutMs} ms.`,
      );
    }
  };
  app.get("/readyz", ready);
  app.get("/healthz", ready);
  if (options.serveMetrics) registerMetricsRoute(app, metrics);
  return app;
}

/**
 * The results browser (ui/, built by Vite) at `/`: a static page that calls the API like any
 * client. Its script and styles, named by their hash, are cached for good; the page itself is
 * checked each time. Compressed copies made by the build are sent to browsers that take them.
 */
async function registerUi(app: FastifyInstance, root: string): Promise<void> {
  await app.register(fastifyStatic, {
    root,
    prefix: "/",
    wildcard: false,
    preCompressed: true,
    // Only what a page needs: no listing, no dotfiles.
    list: false,
    dotfiles: "deny",
    setHeaders: (response, path) => {
      response.header("x-content-type-options", "nosniff");
      // The page itself, or a compressed copy of it.
      if (/\.html(\.(gz|br))?$/.test(path)) {
        response.header("cache-control", "no-cache");
        response.header("content-security-policy", UI_CONTENT_SECURITY_POLICY);
        response.header("referrer-policy", "no-referrer");
      } else {
        response.header("cache-control", "public, max-age=31536000, immutable");
      }
    },
  });
}

/** The page loads nothing from elsewhere, and no other site may frame it. */
const UI_CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** GET /metrics, in Prometheus' text format. */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get("/metrics", async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}

/** A server of its own for GET /metrics, on a port operators keep off the public network. */
export function createMetricsServer(logger: Logger, metrics: Metrics): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  registerMetricsRoute(app, metrics);
  return app;
}
