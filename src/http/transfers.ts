import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from "fastify";
import { ErrorCode, HandledError } from "../errors.js";
import { requireScope } from "../graphql/authorization.js";
import type { Logger } from "../logger.js";
import { storageFailureOf } from "../results/observed-handler.js";
import type { ByteRange } from "../results/result-handler.js";
import type { Caller } from "../services/api-keys.js";
import type { RangeRequest, TransferService, UploadBody, UploadedResult } from "../services/transfers.js";
import { sendError } from "./errors.js";

/** The HTTP status of each code a transfer can fail with; 500 for any other. */
const STATUS: Partial<Record<string, number>> = {
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.RESULT_INTEGRITY]: 400,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.TOKEN_INVALID]: 403,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.HANDLE_OUT_OF_BOUNDS]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.RESULT_NOT_FOUND]: 404,
  [ErrorCode.RESULT_NOT_HANDLED]: 404,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.VALUE_TOO_LARGE]: 413,
  [ErrorCode.RANGE_NOT_SATISFIABLE]: 416,
  [ErrorCode.RESULT_WRITE_FAILED]: 502,
  [ErrorCode.RESULT_READ_FAILED]: 502,
  [ErrorCode.DATABASE_UNAVAILABLE]: 503,
  [ErrorCode.STORE_TIMEOUT]: 504,
};

export interface TransferRoutesOptions {
  transfers: TransferService;
  /** Sets `request.caller` from the request's API key, or answers 401 (see server.ts). */
  authenticate: preHandlerHookHandler | undefined;
  /** The caller of a request that `authenticate` let through (or of every request, with auth off). */
  callerOf: (request: FastifyRequest) => Caller;
  /** Route options of PUT /results (its rate limit, counted with the key's GraphQL requests). */
  routeConfig: Record<string, unknown>;
  logger: Logger;
}

/**
 * The body of an upload as it comes, unread, with what its headers say of it. It reaches the
 * service through a stream of its own: a failed upload destroys that one, and the request's
 * socket stays to carry the answer (then closes, the rest of the body unread). A client that
 * goes before its body ends fails the stream, so nothing it sent is kept.
 */
function bodyOf(request: FastifyRequest): UploadBody {
  const length = request.headers["content-length"];
  const type = request.headers["content-type"];
  const raw = request.body as IncomingMessage;
  const stream = new PassThrough();
  raw.pipe(stream);
  const cut = () =>
    new HandledError(ErrorCode.BAD_USER_INPUT, "The request body ended before it was whole; nothing was kept.");
  raw.on("error", () => stream.destroy(cut()));
  raw.on("close", () => {
    if (!raw.complete) stream.destroy(cut());
  });
  return {
    stream,
    contentLength: length === undefined ? undefined : Number(length),
    contentType: type,
  };
}

/** A single `bytes=` range (the only kind served); undefined for none, or for one not understood. */
function parseRange(header: string | undefined): RangeRequest | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  const [, first, last] = match;
  return {
    resolve(size: number): ByteRange {
      const unsatisfiable = () =>
        new HandledError(ErrorCode.RANGE_NOT_SATISFIABLE, `The range "${header}" asks for no byte of ${size}.`);
      if (first === "") {
        // The last N bytes.
        const count = Number(last);
        if (count === 0 || size === 0) throw unsatisfiable();
        return { start: Math.max(0, size - count), end: size - 1 };
      }
      const start = Number(first);
      if (start >= size) throw unsatisfiable();
      return { start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
    },
  };
}

/**
 * The routes large results move by, beside GraphQL:
 * - PUT /uploads/<token>: the body of a prepared upload (the token is its authority: no API key);
 * - PUT /results/<taskRunId>: a body streamed through the task run's handler (an API key with write);
 * - GET /results/<resultId>?token=: a result's bytes (the token is its authority), with ranges.
 * Failures answer as the GraphQL endpoint's do, with `errors[0].extensions.code`.
 */
export async function registerTransferRoutes(app: FastifyInstance, options: TransferRoutesOptions): Promise<void> {
  const { transfers, logger } = options;

  function fail(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
    const code = error instanceof HandledError ? error.code : "INTERNAL_SERVER_ERROR";
    const status = STATUS[code] ?? 500;
    const failure = storageFailureOf(error);
    if (status >= 500) {
      logger.error(
        {
          requestId: request.id,
          code,
          ...(failure ? { storage: failure } : {}),
          ...(error instanceof HandledError ? {} : { err: { name: (error as Error).name } }),
        },
        "transfer failed",
      );
    }
    // The body was not read to its end: the connection goes with the answer.
    if (request.method === "PUT" && !request.raw.readableEnded) reply.header("connection", "close");
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="handled"');
    return sendError(reply, status, code, error instanceof HandledError ? error.message : "The transfer failed.");
  }

  const uploaded = (result: UploadedResult) => ({
    handler: result.handler,
    handle: result.handle,
    sizeBytes: result.sizeBytes,
    sha256: result.sha256,
    expiresAt: result.expiresAt.toISOString(),
  });

  await app.register(async (raw) => {
    // Bodies here are streamed where they go, never parsed or held: every type passes as it came.
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

    raw.put<{ Params: { token: string } }>("/uploads/:token", async (request, reply) => {
      try {
        return uploaded(await transfers.acceptUpload(request.params.token, bodyOf(request)));
      } catch (error) {
        return fail(request, reply, error);
      }
    });

    raw.put<{ Params: { taskRunId: string } }>(
      "/results/:taskRunId",
      { ...options.routeConfig, ...(options.authenticate ? { preHandler: options.authenticate } : {}) },
      async (request, reply) => {
        try {
          const caller = options.callerOf(request);
          requireScope(caller, "write");
          return uploaded(await transfers.streamResult(caller.scope, request.params.taskRunId, bodyOf(request)));
        } catch (error) {
          return fail(request, reply, error);
        }
      },
    );
  });

  app.get<{ Params: { id: string }; Querystring: { token?: string } }>("/results/:id", async (request, reply) => {
    try {
      const token = request.query.token;
      if (typeof token !== "string") {
        throw new HandledError(ErrorCode.TOKEN_INVALID, "A download needs the token of its URL (Result.downloadUrl).");
      }
      const download = await transfers.openDownload(request.params.id, token, parseRange(request.headers.range));
      reply
        .header("etag", download.etag)
        .header("accept-ranges", download.ranges ? "bytes" : "none")
        .header("content-length", download.length)
        .header("cache-control", "private, no-store")
        .type("application/octet-stream");
      if (download.range) {
        reply.code(206).header("content-range", `bytes ${download.range.start}-${download.range.end}/${download.size}`);
      }
      return reply.send(download.stream);
    } catch (error) {
      return fail(request, reply, error);
    }
  });
}
