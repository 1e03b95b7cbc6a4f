// @handled/client: the typed SDK of the Handled API. `createClient` plus every operation in
// sdk/operations/*.graphql as a typed document string, typed by graphql-codegen; runs anywhere
// `fetch` does and needs no GraphQL runtime. The same operations as DocumentNode objects, for
// Apollo Client and urql, are in @handled/client/documents.
import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";

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
}

export interface HandledClient {
  /**
   * Runs an operation and returns its data. Throws HandledApiError when the answer carries any
   * error, so a result is never silently partial.
   */
  request<R, V>(operation: Operation<R, V>, variables?: V): Promise<R>;
  /** Runs an operation and returns the answer as it came: data, errors or both. */
  execute<R, V>(operation: Operation<R, V>, variables?: V): Promise<ExecutionResult<R>>;
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

  async function call<R, V>(
    operation: Operation<R, V>,
    variables?: V,
  ): Promise<{ result: ExecutionResult<R>; status: number }> {
    const extra = typeof options.headers === "function" ? await options.headers() : options.headers;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
      ...extra,
    };
    const bearer = options.apiKey ?? options.token;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
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

  return {
    async execute(operation, variables) {
      return (await call(operation, variables)).result;
    },
    async request(operation, variables) {
      const { result, status } = await call(operation, variables);
      if (result.errors?.length || !result.data) throw new HandledApiError(result.errors ?? [], status, result.data);
      return result.data;
    },
  };
}
