import {
  BrowseFlowRunsDocument,
  BrowseFlowsDocument,
  BrowseTaskRunsDocument,
  type BrowseTaskRunsQuery,
  type FlowRunState,
  FlowRunsChangedDocument,
  type TaskRunRowFieldsFragment,
  TaskRunStateChangedDocument,
} from "@handled/client";
import { useEffect, useRef, useState } from "preact/hooks";
import { request, subscribe } from "./api";
import { bytes, place, shortId, time } from "./format";
import { href, type LiveStatus, usePaged } from "./hooks";
import { Badge, ErrorBox, ResultCell } from "./parts";
import { ResultPanel } from "./result-panel";

const PAGE = 50;
const TASK_RUN_PAGE = 100;

function LiveDot({ status }: { status: LiveStatus }) {
  const text = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", off: "not live" }[status];
  return (
    <span class={`live live-${status}`} aria-live="polite" data-live={status}>
      {text}
    </span>
  );
}

/** Rows of the list under `heading`, with a "more" button while pages follow. */
function More({ shown, loading, onMore }: { shown: boolean; loading: boolean; onMore: () => void }) {
  if (!shown) return null;
  return (
    <button type="button" class="more" onClick={onMore} disabled={loading}>
      {loading ? "Loading…" : "Load more"}
    </button>
  );
}

export function FlowsView() {
  const [search, setSearch] = useState("");
  const [term, setTerm] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => setTerm(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const flows = usePaged(term, async (after) => {
    const answer = await request(BrowseFlowsDocument, { first: PAGE, after, nameContains: term || null });
    return { head: true, page: answer.flows };
  });
  const { failure, loading, reload } = flows;
  return (
    <section aria-labelledby="flows-heading">
      <div class="toolbar">
        <h1 id="flows-heading">Flows</h1>
        <input
          type="search"
          id="search"
          placeholder="Search flows by name  ( / )"
          aria-label="Search flows by name"
          value={search}
          onInput={(event) => setSearch((event.target as HTMLInputElement).value)}
        />
      </div>
      {failure && <ErrorBox failure={failure} retry={reload} />}
      {!failure && !loading && flows.rows.length === 0 && (
        <p class="muted">{term ? `No flow's name contains "${term}".` : "No flows yet."}</p>
      )}
      <table class="list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Tasks</th>
            <th>Handler</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {flows.rows.map((flow) => (
            <tr key={flow.id}>
              <td>
                <a href={href.flow(flow.id)} data-row>
                  {flow.name}
                </a>
              </td>
              <td>{flow.tasks.length}</td>
              <td>
                {flow.handler ? (
                  `${flow.handler.type} ${place(flow.handler)}`
                ) : (
                  <span class="muted">server default</span>
                )}
              </td>
              <td title={flow.createdAt}>{time(flow.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <More shown={flows.more} loading={flows.loadingMore} onMore={flows.loadMore} />
    </section>
  );
}

const RUN_STATES: FlowRunState[] = ["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"];
export function FlowView({ flowId }: { flowId: string }) {
  const [state, setState] = useState<FlowRunState | "">("");
  const [live, setLive] = useState<LiveStatus>("connecting");
  const {
    head: flow,
    rows: runs,
    setRows: setRuns,
    more,
    loadMore,
    loadingMore,
    failure,
    reload,
  } = usePaged(`${flowId}:${state}`, async (after) => {
    const answer = await request(BrowseFlowRunsDocument, { flowId, first: PAGE, after, state: state || null });
    return answer.flow && { head: answer.flow, page: answer.flow.runs };
  });
  useEffect(
    () =>
      subscribe(
        FlowRunsChangedDocument,
        { flowId },
        {
          next: ({ flowRunsChanged: run }) =>
            setRuns((current) => {
              const rest = current.filter((other) => other.id !== run.id);
              const known = rest.length !== current.length;
              if (state && run.state !== state) return rest;
              // A run already listed changes in place; a new one goes first (newest first).
              return known ? current.map((other) => (other.id === run.id ? run : other)) : [run, ...current];
            }),
          connected: (again) => {
            setLive("live");
            if (again) reload();
          },
          error: () => setLive("reconnecting"),
        },
      ),
    [flowId, state, reload],
  );
  if (flow === null) return <ErrorBox failure={{ code: "NOT_FOUND", message: `No flow has the id "${flowId}".` }} />;
  return (
    <section aria-labelledby="flow-heading">
      <nav class="crumbs" aria-label="Breadcrumbs">
        <a href={href.flows()}>Flows</a> / <span>{flow?.name ?? "…"}</span>
      </nav>
      <div class="toolbar">
        <h1 id="flow-heading">{flow?.name ?? "Flow"}</h1>
        <label>
          State{" "}
          <select
            value={state}
            onChange={(event) => setState((event.target as HTMLSelectElement).value as FlowRunState | "")}
          >
            <option value="">any</option>
            {RUN_STATES.map((value) => (
              <option key={value} value={value}>
                {value.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <LiveDot status={live} />
      </div>
      {failure && <ErrorBox failure={failure} retry={reload} />}
      {flow && runs.length === 0 && <p class="muted">No runs{state ? ` in state ${state.toLowerCase()}` : ""}.</p>}
      <table class="list">
        <thead>
          <tr>
            <th>Run</th>
            <th>State</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-flow-run={run.id}>
              <td>
                <a href={href.run(run.id)} data-row class="mono">
                  {shortId(run.id)}
                </a>
              </td>
              <td>
                <Badge kind={run.state}>{run.state}</Badge>
              </td>
              <td title={run.createdAt}>{time(run.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <More shown={more} loading={loadingMore} onMore={loadMore} />
    </section>
  );
}

type RunHead = Omit<NonNullable<BrowseTaskRunsQuery["flowRun"]>, "taskRuns">;

export function RunView({ flowRunId, taskRunId }: { flowRunId: string; taskRunId?: string }) {
  const [live, setLive] = useState<LiveStatus>("connecting");
  const [panelRound, setPanelRound] = useState(0);
  // The run's state as read again after its task runs changed (see below), for this run only.
  const [latest, setLatest] = useState<{ flowRunId: string; state: FlowRunState }>();
  const selected = useRef(taskRunId);
  selected.current = taskRunId;
  const {
    head: run,
    rows,
    setRows,
    more,
    loadMore,
    loadingMore,
    failure,
    reload,
  } = usePaged<TaskRunRowFieldsFragment, RunHead>(flowRunId, async (after) => {
    const answer = await request(BrowseTaskRunsDocument, { flowRunId, first: TASK_RUN_PAGE, after });
    if (!answer.flowRun) return null;
    const { taskRuns, ...head } = answer.flowRun;
    // A first page read again (a reconnect) has the run's state as it is now.
    if (after === null) setLatest(undefined);
    return { head, page: taskRuns };
  });
  const runState = latest?.flowRunId === flowRunId ? latest.state : run?.state;
  useEffect(() => {
    if (!rows.length) return;
    performance.mark("handled:task-runs-rendered");
  }, [rows.length > 0]);
  // The run's own state follows its task runs': read again shortly after they change.
  const refreshRun = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(
    () =>
      subscribe(
        TaskRunStateChangedDocument,
        { flowRunId },
        {
          next: ({ taskRunStateChanged: changed }) => {
            setRows((current) =>
              current.map((row) => (row.id === changed.id && changed.version >= row.version ? changed : row)),
            );
            if (changed.id === selected.current) setPanelRound((n) => n + 1);
            clearTimeout(refreshRun.current);
            refreshRun.current = setTimeout(() => {
              request(BrowseTaskRunsDocument, { flowRunId, first: 1 }).then(
                (answer) => answer.flowRun && setLatest({ flowRunId, state: answer.flowRun.state }),
                () => undefined,
              );
            }, 300);
          },
          connected: (again) => {
            setLive("live");
            if (again) reload();
          },
          error: () => setLive("reconnecting"),
        },
      ),
    [flowRunId, reload],
  );
  if (run === null) {
    return <ErrorBox failure={{ code: "NOT_FOUND", message: `No flow run has the id "${flowRunId}".` }} />;
  }
  return (
    <div class={taskRunId ? "split" : ""}>
      <section aria-labelledby="run-heading">
        <nav class="crumbs" aria-label="Breadcrumbs">
          <a href={href.flows()}>Flows</a> / {run ? <a href={href.flow(run.flow.id)}>{run.flow.name}</a> : "…"} /{" "}
          <span class="mono">{shortId(flowRunId)}</span>
        </nav>
        <div class="toolbar">
          <h1 id="run-heading">
            Run <span class="mono">{shortId(flowRunId)}</span>
          </h1>
          {runState && <Badge kind={runState}>{runState}</Badge>}
          <LiveDot status={live} />
        </div>
        {failure && <ErrorBox failure={failure} retry={reload} />}
        <table class="list task-runs">
          <thead>
            <tr>
              <th>Task</th>
              <th>State</th>
              <th>Version</th>
              <th>Result</th>
              <th>Size</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id} data-task-run={row.id} aria-current={row.id === taskRunId ? "true" : undefined}>
                <td>
                  <a href={href.taskRun(flowRunId, row.id)} data-row>
                    {row.task.name}
                  </a>
                  {row.task.isParameter && <span class="tag">parameter</span>}
                </td>
                <td>
                  <Badge kind={row.state.type}>{row.state.type}</Badge>
                </td>
                <td class="num">{row.version}</td>
                <td>
                  <ResultCell result={row.state.result} />
                </td>
                <td class="num">
                  {row.state.result.__typename === "Result" ? bytes(row.state.result.sizeBytes) : "—"}
                </td>
                <td title={row.state.createdAt}>{time(row.state.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <More shown={more} loading={loadingMore} onMore={loadMore} />
      </section>
      {taskRunId && <ResultPanel key={taskRunId} taskRunId={taskRunId} flowRunId={flowRunId} round={panelRound} />}
    </div>
  );
}
