import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { HandledApiError } from "./api";

/** Where a route points: the flows, one flow's runs, or one run (with a task run's result open). */
export type Route =
  | { view: "flows" }
  | { view: "flow"; flowId: string }
  | { view: "run"; flowRunId: string; taskRunId?: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "flows" && parts[1]) return { view: "flow", flowId: parts[1] };
  if (parts[0] === "runs" && parts[1]) return { view: "run", flowRunId: parts[1], taskRunId: parts[2] };
  return { view: "flows" };
}

export const href = {
  flows: () => "#/",
  flow: (flowId: string) => `#/flows/${encodeURIComponent(flowId)}`,
  run: (flowRunId: string) => `#/runs/${encodeURIComponent(flowRunId)}`,
  taskRun: (flowRunId: string, taskRunId: string) =>
    `#/runs/${encodeURIComponent(flowRunId)}/${encodeURIComponent(taskRunId)}`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return route;
}

/** A failure as the page shows it: the API's code and message. */
export interface Failure {
  code: string;
  message: string;
}

export function failureOf(error: unknown): Failure {
  if (error instanceof HandledApiError) return { code: error.code, message: error.message };
  return { code: "UNKNOWN", message: error instanceof Error ? error.message : String(error) };
}

/** Loads with `load` whenever `key` changes; the last answer wins. */
export function useLoad<T>(
  load: () => Promise<T>,
  key: string,
): { data: T | undefined; failure: Failure | undefined; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; failure?: Failure; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  // A layout effect: the request leaves before the first paint, not a frame after it.
  // `key` names what `load` depends on: it is not among the dependencies itself.
  useLayoutEffect(() => {
    const mine = ++latest.current;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => mine === latest.current && setState({ data, loading: false }),
      (error: unknown) => mine === latest.current && setState({ failure: failureOf(error), loading: false }),
    );
  }, [key, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { data: state.data, failure: state.failure, loading: state.loading, reload };
}

/** A page of a list as the API answers it. */
export interface Page<T> {
  nodes: T[];
  pageInfo: { endCursor?: string | null; hasNextPage: boolean };
}

/**
 * A list loaded a page at a time: its first page whenever `key` changes, with the rest of that
 * answer as `head` (null: what the list belongs to does not exist), the next on `loadMore`.
 * `setRows` changes the rows in place (live updates).
 */
export function usePaged<T, H>(
  key: string,
  fetchPage: (after: string | null) => Promise<{ head: H; page: Page<T> } | null>,
) {
  const [rows, setRows] = useState<T[]>([]);
  const [next, setNext] = useState<{ after: string | null; more: boolean }>({ after: null, more: false });
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreFailure, setMoreFailure] = useState<Failure>();
  const nextOf = (page: Page<T> | undefined) => ({
    after: page?.pageInfo.endCursor ?? null,
    more: page?.pageInfo.hasNextPage ?? false,
  });
  const first = useLoad(async () => {
    const answer = await fetchPage(null);
    setRows(answer?.page.nodes ?? []);
    setNext(nextOf(answer?.page));
    setMoreFailure(undefined);
    // null: what the list belongs to does not exist; undefined is kept for "not loaded yet".
    return answer === null ? null : answer.head;
  }, key);
  const loadMore = async () => {
    setLoadingMore(true);
    try {
      const answer = await fetchPage(next.after);
      setRows((current) => [...current, ...(answer?.page.nodes ?? [])]);
      setNext(nextOf(answer?.page));
      setMoreFailure(undefined);
    } catch (error) {
      setMoreFailure(failureOf(error));
    } finally {
      setLoadingMore(false);
    }
  };
  return {
    /** Undefined while the first page loads. */
    head: first.data,
    rows,
    setRows,
    more: next.more,
    loadMore,
    loadingMore,
    failure: first.failure ?? moreFailure,
    loading: first.loading,
    reload: first.reload,
  };
}

/** Whether live updates are flowing: connecting, live, or stopped on an error. */
export type LiveStatus = "connecting" | "live" | "reconnecting" | "off";
