import { type ApiErrorEntry, InspectTaskRunDocument, type InspectTaskRunQuery } from "@handled/client";
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { errorsAt, execute } from "./api";
import { bytes, place, time } from "./format";
import { type Failure, href, useLoad } from "./hooks";
import { JsonTree } from "./json-tree";
import { Badge, ErrorBox, ResultCell } from "./parts";

/** Bytes of a value the panel previews: never the whole of a large one. */
const PREVIEW_BYTES = 4096;

type Inspected = NonNullable<InspectTaskRunQuery["taskRun"]>;

function Field({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

/** The errors of one field, shown where the field would be. */
function FieldErrors({ errors }: { errors: ApiErrorEntry[] }) {
  return (
    <>
      {errors.map((error) => (
        <ErrorBox
          key={error.message}
          failure={{ code: String(error.extensions?.code ?? "ERROR"), message: error.message } satisfies Failure}
        />
      ))}
    </>
  );
}

/** A bounded preview: a JSON tree when the whole value came and parses, else its start as text. */
function Preview({ text, truncated }: { text: string; truncated: boolean }) {
  if (!truncated) {
    try {
      const value: unknown = JSON.parse(text);
      if (value === null) {
        return (
          <p class="null-value" data-preview="null">
            The value is <code>null</code>: a result whose value is null (not the same as no result).
          </p>
        );
      }
      return (
        <div data-preview="json">
          <JsonTree value={value} />
        </div>
      );
    } catch {
      // Not JSON (bytes a client uploaded itself): shown as text.
    }
  }
  return (
    <div data-preview="text">
      <pre class="preview-text">{text}</pre>
      {truncated && <p class="muted">Preview of the first {bytes(PREVIEW_BYTES)}; download the whole value below.</p>}
    </div>
  );
}

export function ResultPanel({ taskRunId, flowRunId, round }: { taskRunId: string; flowRunId: string; round: number }) {
  const panel = useRef<HTMLElement>(null);
  const { data, failure, reload } = useLoad(
    () => execute(InspectTaskRunDocument, { id: taskRunId, previewBytes: PREVIEW_BYTES }),
    `${taskRunId}:${round}`,
  );
  useEffect(() => {
    panel.current?.focus({ preventScroll: true });
  }, []);
  const taskRun = data?.data?.taskRun;
  const errors = data?.errors;
  // The whole answer failing (not one field of it): shown as the panel's error.
  const whole = !taskRun && errors?.length ? errors[0] : undefined;
  return (
    <aside class="panel" aria-labelledby="panel-heading" tabIndex={-1} ref={panel} data-panel={taskRunId}>
      <div class="toolbar">
        <h2 id="panel-heading">{taskRun ? taskRun.task.name : "Task run"}</h2>
        <a href={href.run(flowRunId)} class="close" aria-label="Close the result panel (Escape)">
          ×
        </a>
      </div>
      {failure && <ErrorBox failure={failure} retry={reload} />}
      {whole && (
        <ErrorBox
          failure={{ code: String(whole.extensions?.code ?? "ERROR"), message: whole.message }}
          retry={reload}
        />
      )}
      {data && !taskRun && !whole && (
        <ErrorBox failure={{ code: "NOT_FOUND", message: `No task run has the id "${taskRunId}".` }} />
      )}
      {taskRun && <Inspection taskRun={taskRun} errors={errors} flowRunId={flowRunId} />}
    </aside>
  );
}

function Inspection({
  taskRun,
  errors,
  flowRunId,
}: {
  taskRun: Inspected;
  errors: readonly ApiErrorEntry[] | undefined;
  flowRunId: string;
}) {
  const { state } = taskRun;
  const result = state.result;
  return (
    <>
      <p>
        <Badge kind={state.type}>{state.type}</Badge> version {taskRun.version}, since{" "}
        <span title={state.createdAt}>{time(state.createdAt)}</span>
        {state.message && <span class="message"> — {state.message}</span>}
      </p>
      <h3>Result</h3>
      {result.__typename === "NoResult" ? (
        <p class="no-result-box" data-result="none">
          <strong>No result</strong>: this state carries none (nothing was computed). Not the same as a result whose
          value is null.
        </p>
      ) : (
        <div data-result="stored">
          <dl class="fields">
            <Field name="Handler">
              <Badge kind={result.handler.type}>{result.handler.type}</Badge> {place(result.handler)}
            </Field>
            <Field name="Handle">
              <code class="handle">{result.handle}</code>
            </Field>
            <Field name="Handled">{result.handled ? "yes: the database keeps only this handle" : "no"}</Field>
            <Field name="Size">
              {bytes(result.sizeBytes)}
              {result.storedBytes !== null &&
                result.storedBytes !== result.sizeBytes &&
                ` (${bytes(result.storedBytes)} stored)`}
            </Field>
            <Field name="SHA-256">
              {result.sha256 ? <code class="hash">{result.sha256}</code> : <span class="muted">not recorded</span>}
            </Field>
            {result.codecs.length > 0 && <Field name="Codecs">{result.codecs.join(" → ").toLowerCase()}</Field>}
            {result.keyId && <Field name="Key">{result.keyId}</Field>}
            <Field name="Written">{time(result.createdAt)}</Field>
          </dl>
          <h3>Preview</h3>
          <FieldErrors errors={errorsAt(errors, ["taskRun", "state", "result", "preview"])} />
          {"preview" in result && result.preview && (
            <Preview text={result.preview.text} truncated={result.preview.truncated} />
          )}
          <FieldErrors errors={errorsAt(errors, ["taskRun", "state", "result", "downloadUrl"])} />
          {"downloadUrl" in result && result.downloadUrl && (
            <p>
              <a class="download" href={result.downloadUrl} download rel="noreferrer">
                Download the value ({bytes(result.sizeBytes)})
              </a>{" "}
              <span class="muted">a link that works for 15 minutes</span>
            </p>
          )}
        </div>
      )}
      {state.cachedInputs.length > 0 && (
        <>
          <h3>Cached inputs</h3>
          <table class="list">
            <thead>
              <tr>
                <th>Input</th>
                <th>From task</th>
                <th>Handle</th>
              </tr>
            </thead>
            <tbody>
              {state.cachedInputs.map((input) => (
                <tr key={input.name}>
                  <td>{input.name}</td>
                  <td>
                    <a href={href.taskRun(flowRunId, input.upstreamTaskRun.id)}>{input.upstreamTaskRun.task.name}</a>
                  </td>
                  <td>
                    <Badge kind={input.result.handler.type}>{input.result.handler.type}</Badge>{" "}
                    <code class="handle">{input.result.handle}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h3>History</h3>
      <table class="list history">
        <thead>
          <tr>
            <th>Version</th>
            <th>State</th>
            <th>Result</th>
            <th>At</th>
          </tr>
        </thead>
        <tbody>
          {taskRun.states.nodes.map((past) => (
            <tr key={past.id}>
              <td class="num">{past.version}</td>
              <td>
                <Badge kind={past.type}>{past.type}</Badge>
                {past.message && <span class="message"> {past.message}</span>}
              </td>
              <td>
                <ResultCell result={past.result} />
              </td>
              <td title={past.createdAt}>{time(past.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {taskRun.states.pageInfo.hasNextPage && <p class="muted">Older states follow; the first 100 are shown.</p>}
    </>
  );
}
