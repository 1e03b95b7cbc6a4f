import {
  type ApiErrorEntry,
  createClient,
  type ExecutionResult,
  HandledApiError,
  type HandledClient,
  type Operation,
  type SubscriptionSink,
} from "@handled/client";

// The page's one way to the API: the SDK's client, with the key the user gave (kept for the
// browser tab's session only), and what the page must do when the API asks for one.

const KEY_ITEM = "handled.apiKey";
const endpoint = new URL("graphql", document.baseURI).toString();

function storedKey(): string | undefined {
  try {
    return sessionStorage.getItem(KEY_ITEM) ?? undefined;
  } catch {
    return undefined;
  }
}

let client: HandledClient = connect();
const keyListeners = new Set<(needed: boolean) => void>();

function connect(): HandledClient {
  // Live updates keep trying to reconnect (the API restarting, a replica stopping) for as long as the page is open.
  return createClient({ url: endpoint, apiKey: storedKey(), streamRetries: Number.MAX_SAFE_INTEGER });
}

/** Tells the page that the API wants a key (a missing, revoked or expired one). */
function askForKey(error: unknown): void {
  if (error instanceof HandledApiError && error.code === "UNAUTHENTICATED") {
    for (const listener of keyListeners) listener(true);
  }
}

export function onKeyNeeded(listener: (needed: boolean) => void): () => void {
  keyListeners.add(listener);
  return () => keyListeners.delete(listener);
}

/** Uses this key from now on (this tab only), and tells every view to load again. */
export function setApiKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(KEY_ITEM, key);
    else sessionStorage.removeItem(KEY_ITEM);
  } catch {
    // Storage refused (a private window): the key lasts until the page is reloaded.
  }
  client = key ? createClient({ url: endpoint, apiKey: key, streamRetries: Number.MAX_SAFE_INTEGER }) : connect();
  for (const listener of keyListeners) listener(false);
}

export function hasKey(): boolean {
  return storedKey() !== undefined;
}

/** Runs an operation; throws HandledApiError when the answer has any error. */
export async function request<R, V>(operation: Operation<R, V>, variables: V): Promise<R> {
  try {
    return await client.request(operation, variables);
  } catch (error) {
    askForKey(error);
    throw error;
  }
}

/** Runs an operation and keeps what came: data, and errors of fields that failed alone. */
export async function execute<R, V>(operation: Operation<R, V>, variables: V): Promise<ExecutionResult<R>> {
  const result = await client.execute(operation, variables);
  if (result.errors?.some((error) => error.extensions?.code === "UNAUTHENTICATED")) {
    askForKey(new HandledApiError(result.errors, 401));
  }
  return result;
}

export function subscribe<R, V>(operation: Operation<R, V>, variables: V, sink: SubscriptionSink<R>): () => void {
  return client.subscribe(operation, variables, {
    ...sink,
    error: (error) => {
      askForKey(error);
      sink.error?.(error);
    },
  });
}

/** The errors of an answer at a path, e.g. ["taskRun", "state", "result", "preview"]. */
export function errorsAt(errors: readonly ApiErrorEntry[] | undefined, path: readonly string[]): ApiErrorEntry[] {
  return (errors ?? []).filter(
    (error) => error.path !== undefined && path.every((part, i) => String(error.path?.[i]) === part),
  );
}

export { HandledApiError };
