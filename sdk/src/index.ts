// @handled/client: the typed SDK of the Handled API. `createClient` plus every operation in
// sdk/operations/*.graphql as a typed document string, typed by graphql-codegen; runs anywhere
// `fetch` does and needs no GraphQL runtime. The same operations as DocumentNode objects, for
// Apollo Client and urql, are in @handled/client/documents.
import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";
import { createClient as createStreamClient, type Client as StreamClient } from "graphql-sse";

import {
  PrepareResultUploadDocument,
  type ResultHandlerType,
  TaskRunResultDownloadDocument,
} from "./generated/graphql.js";

export * from "./generated/graphql.js";
export { possibleTypes } from "./possible-types.js";

/** A typed operation: one of the SDK's documents, or one generated the same way. */
export type Operation<R, V> = DocumentTypeDecoration<R, V> & { toString(): string };

/** A GraphQL error as the API sends it; `extensions.code` is stable (see the README). */
export interface ApiErrorEntry {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/** What the API answered: data, errors, or (a field failing alone) both. */
export interface ExecutionResult<R> {
  data?: R | null;
  errors?: readonly ApiErrorEntry[];
}

/**
 * A request the API refused or could not answer. `code` is the first error's
 * `extensions.code` (e.g. VERSION_MISMATCH, RESULT_NOT_FOUND), or NETWORK_ERROR when no answer
 * came, or BAD_RESPONSE when the answer was not the API's JSON.
 */
export class HandledApiError extends Error {
  readonly code: string;
  /** Every error of the answer (one for NETWORK_ERROR and BAD_RESPONSE). */
  readonly errors: readonly ApiErrorEntry[];
  /** The HTTP status, 0 when no answer came. */
  readonly status: number;
  /** What data came with the errors, if any (a field failing alone leaves the rest). */
  readonly data: unknown;

  constructor(errors: readonly ApiErrorEntry[], status: number, data?: unknown, options?: { cause?: unknown }) {
    super(errors.map((e) => e.message).join("; ") || `The API answered ${status}.`, options);
    this.name = "HandledApiError";
    this.code = errors[0]?.extensions?.code ?? "UNKNOWN";
    this.errors = errors;
    this.status = status;
    this.data = data;
  }
}

/** How to reach the API. */
export interface ClientOptions {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql. */
  url: string | URL;
  /** The API key (from `npm run keys -- create`, or the `createApiKey` mutation), sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Sent as `Authorization: Bearer <token>`, for deployments behind an authenticating proxy (an API key is sent the same way). */
  token?: string;
  /** More headers for every request; a function is called for each (e.g. to refresh a token). */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** Gives up on a request after this long (NETWORK_ERROR). */
  timeoutMs?: number;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
  /**
   * How many times in a row a subscription's stream is opened again after it was cut (a replica
   * stopping, a network failure) before its sink gets NETWORK_ERROR; 5 by default. The waits grow
   * from 1 s to 10 s.
   */
  streamRetries?: number;
}

/** Where a subscription's events go. */
export interface SubscriptionSink<R> {
  /** Each event's data. */
  next(data: R): void;
  /**
   * An event with errors (e.g. UNAUTHENTICATED when the key stopped working, after which the
   * subscription ends), a refusal (NOT_FOUND, FORBIDDEN...), or NETWORK_ERROR once retries ran out.
   */
  error?(error: HandledApiError): void;
  /** The server ended the subscription. */
  complete?(): void;
  /** The stream is open (again, when `reconnected`): changes made while it was not were not sent. */
  connected?(reconnected: boolean): void;
}

/** The bytes of a result to upload: in memory, or a stream (read once, never held whole). */
export type ResultBytes = Uint8Array | string | ReadableStream<Uint8Array>;

/** How uploadResult sends the bytes. */
export interface UploadOptions {
  /** The bytes' media type; application/octet-stream by default. */
  contentType?: string;
  /** The bytes' size, when known (it is for bytes in memory): a body of another size is refused. */
  sizeBytes?: number;
  /** SHA-256 of the bytes, hex: other bytes are refused. */
  sha256?: string;
  /**
   * presigned (default): to the URL prepareResultUpload answers (the store itself where it can),
   * then, for bytes in memory only, through the API when that URL cannot be reached. api: through
   * the API's PUT /results/<taskRunId>, streamed to the task run's handler.
   */
  via?: "presigned" | "api";
}

/** What an upload stored: give `handled` as the state's result, before `expiresAt`. */
export interface UploadedResult {
  handled: {
    handler: { type: ResultHandlerType; dir?: string; bucket?: string; prefix?: string };
    handle: string;
    sizeBytes?: number;
    sha256?: string;
  };
  expiresAt: string;
}

/** Which result downloadResult fetches: a task run's current one (by id), or a URL already asked for. */
export type ResultSource = string | { downloadUrl: string };

export interface HandledClient {
  /**
   * Runs an operation and returns its data. Throws HandledApiError when the answer carries any
   * error, so a result is never silently partial.
   */
  request<R, V>(operation: Operation<R, V>, variables?: V): Promise<R>;
  /** Runs an operation and returns the answer as it came: data, errors or both. */
  execute<R, V>(operation: Operation<R, V>, variables?: V): Promise<ExecutionResult<R>>;
  /**
   * Uploads a task run's result without passing it through GraphQL (see UploadOptions.via), and
   * answers what to record it with: `setTaskRunStates` with `result: { handled }`.
   */
  uploadResult(taskRunId: string, data: ResultBytes, options?: UploadOptions): Promise<UploadedResult>;
  /**
   * The bytes of a task run's current result (or of a download URL), fetched from the store where
   * it signs URLs, through the API otherwise, and through the API when the store cannot be reached.
   */
  downloadResult(source: ResultSource): Promise<Uint8Array>;
  /** As downloadResult, as a stream: for results too large to hold. */
  openResult(source: ResultSource): Promise<ReadableStream<Uint8Array>>;
  /**
   * Runs a subscription (e.g. TaskRunStateChangedDocument) over Server-Sent Events at the
   * endpoint's `/stream`, and gives each event's data to `sink`. Returns a function that ends it.
   */
  subscribe<R, V>(operation: Operation<R, V>, variables: V, sink: SubscriptionSink<R>): () => void;
}

/**
 * The errors of a refusal: the API's own (a JSON body with `errors`), or, for any other body (a
 * store's, a proxy's), one BAD_RESPONSE quoting its start.
 */
async function errorsOf(response: Response, what: string): Promise<ApiErrorEntry[]> {
  const text = await response.text();
  try {
    const errors = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errors)) return errors as ApiErrorEntry[];
  } catch {
    // Not JSON: quoted below.
  }
  const message = `The ${what} was refused (HTTP ${response.status}): ${text.slice(0, 200)}`;
  return [{ message, extensions: { code: "BAD_RESPONSE" } }];
}

/**
 * The API's refusal of a subscription, as a stream of its one error: graphql-sse would take any
 * answer but a stream for a network failure, and try again. Overload (429) and server failures
 * (5xx) are left to be tried again.
 */
async function refusalAsStream(response: Response): Promise<Response> {
  if (response.ok || response.status === 429 || response.status >= 500) return response;
  const errors = await errorsOf(response, "subscription");
  const events = `event: next\ndata: ${JSON.stringify({ errors })}\n\nevent: complete\ndata:\n\n`;
  return new Response(events, { status: 200, headers: { "content-type": "text/event-stream" } });
}

/**
 * The id the SDK's own operations carry (the hash of their text, from codegen): a server that
 * only runs the SDK's operations (HANDLED_TRUSTED_DOCUMENTS=only) knows them by it. None for
 * documents of the caller's own.
 */
function documentIdOf(operation: unknown): { documentId?: string } {
  const hash = (operation as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  return typeof hash === "string" ? { documentId: hash } : {};
}

export function createClient(options: ClientOptions): HandledClient {
  const send = options.fetch ?? fetch;
  let streams: StreamClient | undefined;
  /** The client of subscription streams, made on first use. */
  const streamClient = () => {
    streams ??= createStreamClient({
      url: new URL("graphql/stream", new URL(".", options.url)).toString(),
      headers: () => apiHeaders(),
      fetchFn: async (input: string | URL | Request, init?: RequestInit) => refusalAsStream(await send(input, init)),
      retryAttempts: options.streamRetries ?? 5,
      retry: (retries) =>
        new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** retries, 10_000) + Math.random() * 500)),
    });
    return streams;
  };

  async function call<R, V>(
    operation: Operation<R, V>,
    variables?: V,
  ): Promise<{ result: ExecutionResult<R>; status: number }> {
    const headers = { "content-type": "application/json", accept: "application/json", ...(await apiHeaders()) };
    let response: Response;
    try {
      response = await send(options.url, {
        method: "POST",
        headers,
        body: JSON.stringify({ query: operation.toString(), variables: variables ?? {}, ...documentIdOf(operation) }),
        signal: options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined,
      });
    } catch (cause) {
      const message = `Cannot reach ${String(options.url)}: ${cause instanceof Error ? cause.message : String(cause)}`;
      throw new HandledApiError([{ message, extensions: { code: "NETWORK_ERROR" } }], 0, undefined, { cause });
    }
    const text = await response.text();
    let body: ExecutionResult<R>;
    try {
      body = JSON.parse(text) as ExecutionResult<R>;
    } catch (cause) {
      const message = `The answer (HTTP ${response.status}) is not JSON: ${text.slice(0, 200)}`;
      throw new HandledApiError([{ message, extensions: { code: "BAD_RESPONSE" } }], response.status, undefined, {
        cause,
      });
    }
    if (typeof body !== "object" || body === null || (!("data" in body) && !("errors" in body))) {
      const message = `The answer (HTTP ${response.status}) is not a GraphQL result.`;
      throw new HandledApiError([{ message, extensions: { code: "BAD_RESPONSE" } }], response.status);
    }
    // Errors the server sends before GraphQL runs (413, 400) come in the same shape.
    return { result: body, status: response.status };
  }

  async function request<R, V>(operation: Operation<R, V>, variables?: V): Promise<R> {
    const { result, status } = await call(operation, variables);
    if (result.errors?.length || !result.data) throw new HandledApiError(result.errors ?? [], status, result.data);
    return result.data;
  }

  /** A request to a URL other than the GraphQL endpoint; NETWORK_ERROR when nothing answers. */
  async function transfer(url: string, init: RequestInit & { duplex?: "half" }): Promise<Response> {
    try {
      return await send(url, init);
    } catch (cause) {
      const message = `Cannot reach ${url.split("?")[0]}: ${cause instanceof Error ? cause.message : String(cause)}`;
      throw new HandledApiError([{ message, extensions: { code: "NETWORK_ERROR" } }], 0, undefined, { cause });
    }
  }

  /** Throws the API's error for an answer that is not a success (the store's, as BAD_RESPONSE). */
  async function check(response: Response): Promise<Response> {
    if (response.ok) return response;
    throw new HandledApiError(await errorsOf(response, "transfer"), response.status);
  }

  /** The caller's headers for every request to the API: its own, then its key or token. */
  async function apiHeaders(): Promise<Record<string, string>> {
    const extra = typeof options.headers === "function" ? await options.headers() : options.headers;
    const bearer = options.apiKey ?? options.token;
    return { ...extra, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) };
  }

  /** Streams the bytes through the API to the task run's handler. */
  async function uploadThroughApi(
    taskRunId: string,
    body: RequestInit["body"],
    upload: UploadOptions,
  ): Promise<UploadedResult> {
    const url = new URL(`results/${encodeURIComponent(taskRunId)}`, options.url).toString();
    const response = await check(
      await transfer(url, {
        method: "PUT",
        headers: {
          ...(await apiHeaders()),
          "content-type": upload.contentType ?? "application/octet-stream",
          ...(upload.sizeBytes !== undefined && !(body instanceof Uint8Array)
            ? { "content-length": String(upload.sizeBytes) }
            : {}),
        },
        body,
        duplex: "half",
      }),
    );
    const answer = (await response.json()) as {
      handler: UploadedResult["handled"]["handler"];
      handle: string;
      sizeBytes: number;
      sha256: string;
      expiresAt: string;
    };
    return {
      handled: {
        handler: placeOf(answer.handler),
        handle: answer.handle,
        sizeBytes: answer.sizeBytes,
        sha256: answer.sha256,
      },
      expiresAt: answer.expiresAt,
    };
  }

  async function downloadUrlOf(source: ResultSource, viaApi: boolean): Promise<string> {
    if (typeof source !== "string" && !viaApi) return source.downloadUrl;
    const id = typeof source === "string" ? source : undefined;
    if (id === undefined)
      throw new Error("A download URL that cannot be reached has no other way; pass the task run's id.");
    const { taskRun } = await request(TaskRunResultDownloadDocument, { id, viaApi });
    const result = taskRun?.state.result;
    if (!taskRun)
      throw new HandledApiError(
        [{ message: `No task run has the id "${id}".`, extensions: { code: "NOT_FOUND" } }],
        200,
      );
    if (!result || !("downloadUrl" in result)) {
      throw new HandledApiError(
        [{ message: `Task run ${id} has no result.`, extensions: { code: "RESULT_NOT_HANDLED" } }],
        200,
      );
    }
    return result.downloadUrl;
  }

  async function openResult(source: ResultSource): Promise<ReadableStream<Uint8Array>> {
    let response: Response;
    try {
      response = await transfer(await downloadUrlOf(source, false), {});
    } catch (error) {
      // The store cannot be reached from here: the API streams it instead.
      if (!(error instanceof HandledApiError) || error.code !== "NETWORK_ERROR" || typeof source !== "string")
        throw error;
      response = await transfer(await downloadUrlOf(source, true), {});
    }
    const body = (await check(response)).body;
    return body ?? new ReadableStream({ start: (controller) => controller.close() });
  }

  return {
    async execute(operation, variables) {
      return (await call(operation, variables)).result;
    },
    request,

    async uploadResult(taskRunId, data, upload = {}) {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      const inMemory = bytes instanceof Uint8Array;
      if (upload.via === "api") return uploadThroughApi(taskRunId, bytes as RequestInit["body"], upload);
      const sizeBytes = upload.sizeBytes ?? (inMemory ? bytes.byteLength : undefined);
      const { prepareResultUpload: prepared } = await request(PrepareResultUploadDocument, {
        taskRunId,
        contentType: upload.contentType ?? null,
        sizeBytes: sizeBytes ?? null,
        sha256: upload.sha256 ?? null,
      });
      const headers: Record<string, string> = {
        ...Object.fromEntries(prepared.headers.map((header) => [header.name, header.value])),
        // A stream's length, when given, is sent ahead of it: S3 takes no upload without one.
        ...(!inMemory && sizeBytes !== undefined ? { "content-length": String(sizeBytes) } : {}),
      };
      let response: Response;
      try {
        response = await transfer(prepared.url, {
          method: prepared.method,
          headers,
          body: bytes as RequestInit["body"],
          duplex: "half",
        });
      } catch (error) {
        // The URL cannot be reached from here (a store behind a firewall): bytes still in memory
        // go through the API instead; a stream, already read, cannot.
        if (!inMemory) throw error;
        return uploadThroughApi(taskRunId, bytes as RequestInit["body"], { ...upload, sizeBytes });
      }
      await check(response);
      // The API's own upload URL answers what it stored; a store's answers nothing of use.
      const seen = response.headers.get("content-type")?.includes("application/json")
        ? ((await response.json()) as { sizeBytes?: number; sha256?: string })
        : {};
      return {
        handled: {
          handler: placeOf(prepared.handler),
          handle: prepared.handle,
          ...(seen.sizeBytes !== undefined
            ? { sizeBytes: seen.sizeBytes }
            : sizeBytes !== undefined
              ? { sizeBytes }
              : {}),
          ...(seen.sha256 ? { sha256: seen.sha256 } : upload.sha256 ? { sha256: upload.sha256 } : {}),
        },
        expiresAt: String(prepared.expiresAt),
      };
    },

    openResult,

    subscribe(operation, variables, sink) {
      let connectedBefore = false;
      return streamClient().subscribe<never>(
        {
          query: operation.toString(),
          variables: (variables ?? {}) as Record<string, unknown>,
          // A server that runs only the SDK's operations (HANDLED_TRUSTED_DOCUMENTS=only) knows them by it.
          extensions: documentIdOf(operation),
        },
        {
          next(result) {
            if (result.errors?.length) {
              sink.error?.(new HandledApiError(result.errors as unknown as ApiErrorEntry[], 200, result.data));
            } else if (result.data) {
              sink.next(result.data as never);
            }
          },
          error(error) {
            const message = error instanceof Error ? error.message : "The subscription's stream failed.";
            const errors = Array.isArray(error)
              ? (error as ApiErrorEntry[])
              : [{ message, extensions: { code: "NETWORK_ERROR" } }];
            sink.error?.(new HandledApiError(errors, 0, undefined, { cause: error }));
          },
          complete() {
            sink.complete?.();
          },
        },
        {
          connected(reconnected) {
            sink.connected?.(reconnected || connectedBefore);
            connectedBefore = true;
          },
        },
      );
    },

    async downloadResult(source) {
      const stream = await openResult(source);
      return new Uint8Array(await new Response(stream).arrayBuffer());
    },
  };
}

/** A handler as a state's handled result gives it: its type and place, without write policy. */
function placeOf(handler: {
  type: ResultHandlerType;
  dir?: string | null;
  bucket?: string | null;
  prefix?: string | null;
}): UploadedResult["handled"]["handler"] {
  return {
    type: handler.type,
    ...(handler.dir ? { dir: handler.dir } : {}),
    ...(handler.bucket ? { bucket: handler.bucket } : {}),
    ...(handler.prefix ? { prefix: handler.prefix } : {}),
  };
}
