import type { ResultMetaFieldsFragment } from "@handled/client";
import type { ComponentChildren } from "preact";
import { elide } from "./format";
import type { Failure } from "./hooks";

export function ErrorBox({ failure, retry }: { failure: Failure; retry?: () => void }) {
  return (
    <div class="error" role="alert">
      <strong class="code">{failure.code}</strong> {failure.message}
      {retry && (
        <button type="button" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Badge({ kind, children }: { kind: string; children: ComponentChildren }) {
  return <span class={`badge badge-${kind.toLowerCase()}`}>{children}</span>;
}

/** Where a result lives, in a cell: its handler and handle, or that there is none. */
export function ResultCell({ result }: { result: ResultMetaFieldsFragment }) {
  if (result.__typename === "NoResult") return <span class="no-result">no result</span>;
  return (
    <span title={result.handle}>
      <Badge kind={result.handler.type}>{result.handler.type}</Badge>{" "}
      <span class="mono">{result.handler.type === "JSON" ? elide(result.handle, 32) : elide(result.handle, 48)}</span>
    </span>
  );
}
