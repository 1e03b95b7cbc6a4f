import {
  BrowseFlowRunsDocument,
  type BrowseFlowRunsQuery,
  BrowseFlowsDocument,
  type BrowseFlowsQuery,
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
import { failureOf, href, type LiveStatus, useLoad } from "./hooks";
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

type FlowNode = BrowseFlowsQuery["flows"]["nodes"][number];

export function FlowsView() {
  const [search, setSearch] = useState("");
  const [term, setTerm] = useState("");
  const [extra, setExtra] = useState<{ nodes: FlowNode[]; cursor: string | null; more: boolean }>();
  const [moreLoading, setMoreLoading] = useState(false);
  useEffect(() => {
    const timer = setTimeout(() => setTerm(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const { data, failure, loading, reload } = useLoad(() => {
    setExtra(undefined);
    return request(BrowseFlowsDocument, { first: PAGE, nameContains: term || null });
  }, term);
  const nodes = [...(data?.flows.nodes ?? []), ...(extra?.nodes ?? [])];
  const pageInfo = extra ?? { cursor: data?.flows.pageInfo.endCursor ?? null, more: data?.flows.pageInfo.hasNextPage };
  const loadMore = async () => {
    setMoreLoading(true);
    try {
      const next = await request(BrowseFlowsDocument, {
        first: PAGE,
        after: pageInfo.cursor,
        nameContains: term || null,
      });
      setExtra({
        nodes: [...(extra?.nodes ?? []), ...next.flows.nodes],
        cursor: next.flows.pageInfo.endCursor ?? null,
        more: next.flows.pageInfo.hasNextPage,
      });
    } finally {
      setMoreLoading(false);
    }
  };
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
      {!failure && !loading && nodes.length === 0 && (
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
          {nodes.map((flow) => (
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
      <More shown={Boolean(pageInfo.more)} loading={moreLoading} onMore={loadMore} />
    </section>
  );
}

const RUN_STATES: FlowRunState[] = ["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"];
type RunNode = NonNullable<BrowseFlowRunsQuery["flow"]>["runs"]["nodes"][number];

export function FlowView({ flowId }: { flowId: string }) {
  const [state, setState] = useState<FlowRunState | "">("");
  const [runs, setRuns] = useState<RunNode[]>([]);
  const [cursor, setCursor] = useState<{ after: string | null; more: boolean }>({ after: null, more: false });
  const [moreLoading, setMoreLoading] = useState(false);
  const [live, setLive] = useState<LiveStatus>("connecting");
  const { data, failure, reload } = useLoad(async () => {
    const answer = await request(BrowseFlowRunsDocument, { flowId, first: PAGE, state: state || null });
    setRuns(answer.flow?.runs.nodes ?? []);
    setCursor({
      after: answer.flow?.runs.pageInfo.endCursor ?? null,
      more: answer.flow?.runs.pageInfo.hasNextPage ?? false,
    });
    return answer;
  }, `${flowId}:${state}`);
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
  const loadMore = async () => {
    setMoreLoading(true);
    try {
      const next = await request(BrowseFlowRunsDocument, {
        flowId,
        first: PAGE,
        after: cursor.after,
        state: state || null,
      });
      setRuns((current) => [...current, ...(next.flow?.runs.nodes ?? [])]);
      setCursor({
        after: next.flow?.runs.pageInfo.endCursor ?? null,
        more: next.flow?.runs.pageInfo.hasNextPage ?? false,
      });
    } finally {
      setMoreLoading(false);
    }
  };
  if (data && !data.flow)
    return <ErrorBox failure={{ code: "NOT_FOUND", message: `No flow has the id "${flowId}".` }} />;
  return (
    <section aria-labelledby="flow-heading">
      <nav class="crumbs" aria-label="Breadcrumbs">
        <a href={href.flows()}>Flows</a> / <span>{data?.flow?.name ?? "…"}</span>
      </nav>
      <div class="toolbar">
        <h1 id="flow-heading">{data?.flow?.name ?? "Flow"}</h1>
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
      {data && runs.length === 0 && <p class="muted">No runs{state ? ` in state ${state.toLowerCase()}` : ""}.</p>}
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
      <More shown={cursor.more} loading={moreLoading} onMore={loadMore} />
    </section>
  );
}

type RunAnswer = NonNullable<BrowseTaskRunsQuery["flowRun"]>;

export function RunView({ flowRunId, taskRunId }: { flowRunId: string; taskRunId?: string }) {
  const [rows, setRows] = useState<TaskRunRowFieldsFragment[]>([]);
  const [cursor, setCursor] = useState<{ after: string | null; more: boolean }>({ after: null, more: false });
  const [run, setRun] = useState<Omit<RunAnswer, "taskRuns">>();
  const [moreLoading, setMoreLoading] = useState(false);
  const [live, setLive] = useState<LiveStatus>("connecting");
  const [panelRound, setPanelRound] = useState(0);
  const selected = useRef(taskRunId);
  selected.current = taskRunId;
  const { data, failure, reload } = useLoad(async () => {
    const answer = await request(BrowseTaskRunsDocument, { flowRunId, first: TASK_RUN_PAGE });
    if (answer.flowRun) {
      const { taskRuns, ...rest } = answer.flowRun;
      setRun(rest);
      setRows(taskRuns.nodes);
      setCursor({ after: taskRuns.pageInfo.endCursor ?? null, more: taskRuns.pageInfo.hasNextPage });
    }
    return answer;
  }, flowRunId);
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
                (answer) =>
                  answer.flowRun && setRun((previous) => previous && { ...previous, state: answer.flowRun!.state }),
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
  const loadMore = async () => {
    setMoreLoading(true);
    try {
      const next = await request(BrowseTaskRunsDocument, { flowRunId, first: TASK_RUN_PAGE, after: cursor.after });
      setRows((current) => [...current, ...(next.flowRun?.taskRuns.nodes ?? [])]);
      setCursor({
        after: next.flowRun?.taskRuns.pageInfo.endCursor ?? null,
        more: next.flowRun?.taskRuns.pageInfo.hasNextPage ?? false,
      });
    } catch (error) {
      alert(failureOf(error).message);
    } finally {
      setMoreLoading(false);
    }
  };
  if (data && !data.flowRun) {
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
          {run && <Badge kind={run.state}>{run.state}</Badge>}
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
        <More shown={cursor.more} loading={moreLoading} onMore={loadMore} />
      </section>
      {taskRunId && <ResultPanel key={taskRunId} taskRunId={taskRunId} flowRunId={flowRunId} round={panelRound} />}
    </div>
  );
}
