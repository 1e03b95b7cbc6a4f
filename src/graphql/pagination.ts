import { ErrorCode, HandledError } from "../errors.js";

/** Most items one page may hold. */
export const MAX_PAGE_SIZE = 500;

/** How many items each connection field returns when `first` is not given. */
export const DEFAULT_PAGE_SIZES = { flows: 20, runs: 20, taskRuns: 100, states: 50 } as const;

/** A page of a list, as the GraphQL connections return it. */
export interface Page<T> {
  nodes: T[];
  pageInfo: { endCursor: string | null; hasNextPage: boolean; startCursor: string | null; hasPreviousPage: boolean };
  /** The cursor of one of its nodes (for `edges`, made only when they are asked for). */
  cursorOf(node: T): string;
}

/** An item of a page with its cursor: a connection's edge. */
export interface Edge<T> {
  cursor: string;
  node: T;
}

/** The edges of a page: its nodes, each with its cursor. */
export function edgesOf<T>(page: Page<T>): Edge<T>[] {
  return page.nodes.map((node) => ({ cursor: page.cursorOf(node), node }));
}

/**
 * Cursors are opaque to clients: base64url of the JSON of the last item's sort key. Decoding
 * checks the key's shape, so a cursor made up or taken from another list is refused with
 * BAD_USER_INPUT instead of paging from a wrong place.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

export function decodeCursor<K extends readonly (string | number)[]>(
  cursor: string,
  check: (key: unknown[]) => key is unknown[] & K,
): K {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key) || !check(key)) {
    throw new HandledError(ErrorCode.BAD_USER_INPUT, `"${cursor}" is not a cursor of this list.`);
  }
  return key;
}

/** Checks a page size. Throws BAD_USER_INPUT outside 1 to MAX_PAGE_SIZE. */
export function pageSize(first: number | null | undefined, fallback: number): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new HandledError(ErrorCode.BAD_USER_INPUT, `"first" must be 1 to ${MAX_PAGE_SIZE}, not ${size}.`);
  }
  return size;
}

/**
 * A page from up to `size + 1` rows in list order: the extra row, if there, only says that
 * more follow. `after`: whether it was asked for after a cursor (items come before it).
 */
export function toPage<T>(
  rows: readonly T[],
  size: number,
  keyOf: (node: T) => readonly (string | number)[],
  after: boolean,
): Page<T> {
  const nodes = rows.slice(0, size);
  const cursorOf = (node: T) => encodeCursor(keyOf(node));
  const [first, last] = [nodes[0], nodes.at(-1)];
  return {
    nodes,
    pageInfo: {
      endCursor: last === undefined ? null : cursorOf(last),
      hasNextPage: rows.length > size,
      startCursor: first === undefined ? null : cursorOf(first),
      hasPreviousPage: after,
    },
    cursorOf,
  };
}
