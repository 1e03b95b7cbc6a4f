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

/** Whether live updates are flowing: connecting, live, or stopped on an error. */
export type LiveStatus = "connecting" | "live" | "reconnecting" | "off";
