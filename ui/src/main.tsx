import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { hasKey, onKeyNeeded, setApiKey } from "./api";
import { href, useRoute } from "./hooks";
import { FlowsView, FlowView, RunView } from "./views";
import "./styles.css";

/** Asks for an API key when the API wants one; kept for this tab only. */
function KeyPrompt({ onDone }: { onDone: () => void }) {
  const [key, setKey] = useState("");
  return (
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="key-heading">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setApiKey(key.trim());
          onDone();
        }}
      >
        <h2 id="key-heading">API key</h2>
        <p>
          {hasKey() ? "The API refused the key this page has (revoked or expired?)." : "This server needs an API key."}{" "}
          Give one with at least <code>read</code> scope (<code>npm run keys -- create</code>). It is kept for this tab
          only.
        </p>
        <input
          type="password"
          autoComplete="off"
          aria-label="API key"
          placeholder="hnd_…"
          value={key}
          onInput={(event) => setKey((event.target as HTMLInputElement).value)}
          // biome-ignore lint/a11y/noAutofocus: the dialog is there to take the key.
          autoFocus
        />
        <button type="submit" disabled={!key.trim()}>
          Use this key
        </button>
      </form>
    </div>
  );
}

/** Keys: / to search, j/k or arrows to move through a list's rows, Escape to close the result panel. */
function useKeyboard(): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      const typing = target.matches("input, select, textarea");
      if (event.key === "Escape" && !typing) {
        const close = document.querySelector<HTMLAnchorElement>(".panel .close");
        if (close) location.hash = close.getAttribute("href") ?? href.flows();
        return;
      }
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "/") {
        const search = document.getElementById("search");
        if (search) {
          event.preventDefault();
          search.focus();
        }
        return;
      }
      const down = event.key === "j" || event.key === "ArrowDown";
      const up = event.key === "k" || event.key === "ArrowUp";
      if (!down && !up) return;
      // The rows of the list the focus is in (the panel's, or the page's main list).
      const scope = target.closest(".panel") ?? document.querySelector("main section");
      const rows = [...(scope?.querySelectorAll<HTMLAnchorElement>("a[data-row]") ?? [])];
      if (rows.length === 0) return;
      event.preventDefault();
      const at = rows.indexOf(target as HTMLAnchorElement);
      const next =
        at === -1 ? (down ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + (down ? 1 : -1)));
      rows[next]!.focus();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
}

function App() {
  const route = useRoute();
  const [needsKey, setNeedsKey] = useState(false);
  // Bumped when a key is given: every view loads again with it.
  const [session, setSession] = useState(0);
  useEffect(
    () =>
      onKeyNeeded((needed) => {
        setNeedsKey(needed);
        if (!needed) setSession((n) => n + 1);
      }),
    [],
  );
  useKeyboard();
  return (
    <>
      <header class="top">
        <a href={href.flows()} class="brand">
          Handled
        </a>
        <span class="muted">results browser</span>
        <span class="spacer" />
        <button type="button" class="link" onClick={() => setNeedsKey(true)}>
          API key
        </button>
      </header>
      <main key={session}>
        {route.view === "flows" && <FlowsView />}
        {route.view === "flow" && <FlowView flowId={route.flowId} />}
        {route.view === "run" && <RunView flowRunId={route.flowRunId} taskRunId={route.taskRunId} />}
      </main>
      {needsKey && <KeyPrompt onDone={() => setNeedsKey(false)} />}
    </>
  );
}

render(<App />, document.getElementById("app")!);
