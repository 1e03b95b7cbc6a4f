// A JSON value as a tree: objects and arrays fold (the first levels open), leaves are typed by colour.

const OPEN_LEVELS = 2;
/** Items shown per object or array before "… N more", so that a wide value stays readable. */
const MAX_ITEMS = 200;

function Leaf({ value }: { value: unknown }) {
  if (value === null) return <span class="json-null">null</span>;
  if (typeof value === "string") return <span class="json-string">{JSON.stringify(value)}</span>;
  if (typeof value === "number") return <span class="json-number">{String(value)}</span>;
  if (typeof value === "boolean") return <span class="json-boolean">{String(value)}</span>;
  return <span>{String(value)}</span>;
}

function Node({ name, value, level }: { name?: string; value: unknown; level: number }) {
  const label = name === undefined ? null : <span class="json-key">{name}: </span>;
  if (value === null || typeof value !== "object") {
    return (
      <li>
        {label}
        <Leaf value={value} />
      </li>
    );
  }
  const entries = Array.isArray(value)
    ? value.map((item, i) => [String(i), item] as const)
    : Object.entries(value as Record<string, unknown>);
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  if (entries.length === 0) {
    return (
      <li>
        {label}
        <span class="json-empty">{Array.isArray(value) ? "[]" : "{}"}</span>
      </li>
    );
  }
  return (
    <li>
      <details open={level < OPEN_LEVELS}>
        <summary>
          {label}
          <span class="json-summary">{summary}</span>
        </summary>
        <ul>
          {entries.slice(0, MAX_ITEMS).map(([key, item]) => (
            <Node key={key} name={key} value={item} level={level + 1} />
          ))}
          {entries.length > MAX_ITEMS && <li class="muted">… {entries.length - MAX_ITEMS} more</li>}
        </ul>
      </details>
    </li>
  );
}

export function JsonTree({ value }: { value: unknown }) {
  return (
    <ul class="json-tree" aria-label="Value">
      <Node value={value} level={0} />
    </ul>
  );
}
