import { isUtf8 } from "node:buffer";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer } from "@apollo/server";
import type { Registry } from "prom-client";
import { withDeadline } from "../deadline.js";
import type { GraphQLContext, Services } from "./context.js";
import { createLoaders } from "./loaders.js";
import { ResponseBudget } from "../results/response-budget.js";

/** Options of the HTTP front of the API. */
export interface HttpServerOptions {
  apollo: ApolloServer<GraphQLContext>;
  services: Services;
  /** Largest request body accepted, in bytes; larger ones get 413. */
  maxRequestBytes: number;
  /** Served at GET /metrics, in Prometheus' text format. */
  metrics: Registry;
  /** Answers GET /healthz: resolves when the service can serve (its database answers). */
  checkHealth: () => Promise<void>;
  /** How long /healthz waits for `checkHealth` before answering 503, in milliseconds. */
  healthTimeoutMs: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new HttpError(413, "PAYLOAD_TOO_LARGE", `The request body is over ${limit} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, "PAYLOAD_TOO_LARGE", `The request body is over ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  // Decoding would turn invalid bytes into U+FFFD silently, and store them so.
  if (!isUtf8(body)) throw new HttpError(400, "BAD_USER_INPUT", "The request body is not valid UTF-8.");
  return body.toString("utf8");
}

async function parseBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (req.method !== "POST") return undefined;
  const text = await readBody(req, limit);
  const type = req.headers["content-type"] ?? "";
  if (!type.toLowerCase().startsWith("application/json")) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, "BAD_REQUEST", "The request body is not valid JSON.");
  }
}

/**
 * The request listener of the API's node:http server: POST/GET /graphql (Apollo Server),
 * GET /healthz and GET /metrics. The request-size limit is ours, so it can follow the
 * configured value size.
 */
export function createRequestListener(options: HttpServerOptions): RequestListener {
  const { apollo, services, maxRequestBytes, metrics, checkHealth, healthTimeoutMs } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/healthz") {
      await withDeadline(checkHealth(), healthTimeoutMs, "the database did not answer")
        .then(() => {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ status: "ok" }));
        })
        .catch(() => sendError(res, 503, "DATABASE_UNAVAILABLE", `The database did not answer within ${healthTimeoutMs} ms.`));
      return;
    }
    if (url.pathname === "/metrics" && req.method === "GET") {
      res.setHeader("content-type", metrics.contentType);
      res.end(await metrics.metrics());
      return;
    }
    if (url.pathname !== "/graphql") {
      sendError(res, 404, "NOT_FOUND", "The API is served at /graphql.");
      return;
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: (req.method ?? "GET").toUpperCase(),
        headers,
        search: url.search,
        body: await parseBody(req, maxRequestBytes),
      },
      context: async () => ({
        ...services,
        loaders: createLoaders(services.prisma, services.pool),
        budget: new ResponseBudget(services.responseLimits),
      }),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === "complete") {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) {
        // The rest of an oversized body is not read; close the connection instead.
        if (error.status === 413) res.setHeader("connection", "close");
        sendError(res, error.status, error.code, error.message);
      } else {
        console.error("request failed", error);
        if (!res.headersSent) sendError(res, 500, "INTERNAL_SERVER_ERROR", "The request failed.");
        else res.end();
      }
    });
  };
}
