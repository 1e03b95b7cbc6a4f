import type { HandledApiError, HandledClient, Operation } from "@handled/client";

/** A subscription a test holds: what it was sent so far, and a way to wait for more. */
export interface Subscribed<R> {
  events: R[];
  errors: HandledApiError[];
  /** Whether the server ended it. */
  completed(): boolean;
  /** Resolves once its stream is open (the server has registered it). */
  connected: Promise<void>;
  /** How many times its stream was opened again after being cut. */
  reconnections(): number;
  /** Resolves with the first event (from the start) that `match` accepts. */
  until(match: (event: R) => boolean, timeoutMs?: number): Promise<R>;
  /** Resolves once it has errors, or the server ended it. */
  ended(timeoutMs?: number): Promise<void>;
  stop(): void;
}

/** Subscribes through the SDK, recording every event; resolves once the stream is open or refused. */
export async function subscribed<R, V>(
  client: HandledClient,
  operation: Operation<R, V>,
  variables: V,
): Promise<Subscribed<R>> {
  const events: R[] = [];
  const errors: HandledApiError[] = [];
  let completed = false;
  let reconnections = 0;
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const waiter of waiters) waiter();
  };
  let onConnected!: () => void;
  const connected = new Promise<void>((resolve) => {
    onConnected = resolve;
  });
  const stop = client.subscribe(operation, variables, {
    next: (event) => {
      events.push(event);
      poke();
    },
    error: (error) => {
      errors.push(error);
      onConnected();
      poke();
    },
    complete: () => {
      completed = true;
      onConnected();
      poke();
    },
    connected: (again) => {
      if (again) reconnections++;
      onConnected();
      poke();
    },
  });
  const waitFor = <T>(check: () => T | undefined, timeoutMs: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const found = check();
        if (found === undefined) return;
        clearTimeout(timer);
        waiters.delete(attempt);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(attempt);
        reject(
          new Error(
            `${what} within ${timeoutMs} ms; events: ${JSON.stringify(events)}, errors: ${errors.map((e) => e.code)}`,
          ),
        );
      }, timeoutMs);
      waiters.add(attempt);
      attempt();
    });
  await connected;
  return {
    events,
    errors,
    completed: () => completed,
    connected,
    reconnections: () => reconnections,
    until: (match, timeoutMs = 5000) => waitFor(() => events.find(match), timeoutMs, "no matching event"),
    ended: (timeoutMs = 5000) =>
      waitFor(() => (errors.length > 0 || completed ? true : undefined), timeoutMs, "not ended").then(() => undefined),
    stop,
  };
}
