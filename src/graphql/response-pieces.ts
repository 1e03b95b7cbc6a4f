import type { FormattedExecutionResult } from "graphql";
import { isPlainObject } from "../results/json-bytes.js";

// A GraphQL response's JSON is sent in pieces, never as one string. A string of over 128 KB (a
// page of 100 task runs with their values is about 210 KB) is the slowest thing to make and
// send with V8 and Node: V8 keeps it in its large-object space, on pages of its own that the
// operating system hands over, and faults in, anew each time; JSON.stringify writes such a text
// about ten times slower per character than a smaller one; and Node then encodes all of it
// into one buffer as large to write it to the socket. Pieces of about PIECE_CHARS characters
// avoid all three: each is an ordinary young string, written to the socket as it comes
// (BENCHMARKS.md, "Responses in pieces").

/** Characters a piece ends at, with the token that reaches them: well under 128 KB however encoded. */
export const PIECE_CHARS = 32 * 1024;

/** A value written here item by item: an array or a plain object, either without a toJSON. */
function isWalked(value: unknown): value is unknown[] | Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  return Array.isArray(value) ? typeof (value as { toJSON?: unknown }).toJSON !== "function" : isPlainObject(value);
}

/**
 * The JSON of anything else, as JSON.stringify writes it as the property `key` of an object or an
 * array: a toJSON is given that key, and what it gives is written as it is. Undefined when
 * JSON.stringify leaves the property out (undefined, a function, a symbol, or a toJSON giving one).
 */
function itemJson(key: string, value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) {
    return value === undefined || typeof value === "function" || typeof value === "symbol"
      ? undefined
      : JSON.stringify(value);
  }
  const holder = JSON.stringify({ [key]: value });
  return holder === "{}" ? undefined : holder.slice(JSON.stringify(key).length + 2, -1);
}

/**
 * The JSON text JSON.stringify(value) gives, in pieces of about `pieceChars` characters. Plain
 * objects are written property by property, and arrays item by item, each item by JSON.stringify:
 * the items of a page (its task runs) are each far smaller than the page, and V8 writes a small
 * text fast. Only an item, or a string, longer than a piece makes a longer one.
 */
export function jsonPieces(value: object, pieceChars = PIECE_CHARS): string[] {
  const pieces: string[] = [];
  let piece = "";
  const append = (text: string) => {
    piece += text;
    if (piece.length >= pieceChars) {
      pieces.push(piece);
      piece = "";
    }
  };
  const walk = (node: unknown[] | Record<string, unknown>) => {
    if (Array.isArray(node)) {
      append("[");
      for (let i = 0; i < node.length; i++) {
        if (i > 0) append(",");
        const item: unknown = node[i];
        append(isWalked(item) ? JSON.stringify(item) : (itemJson(String(i), item) ?? "null"));
      }
      append("]");
      return;
    }
    let first = true;
    append("{");
    for (const key of Object.keys(node)) {
      const item = node[key];
      const name = first ? `${JSON.stringify(key)}:` : `,${JSON.stringify(key)}:`;
      if (isWalked(item)) {
        append(name);
        walk(item);
      } else {
        const text = itemJson(key, item);
        if (text === undefined) continue;
        append(name + text);
      }
      first = false;
    }
    append("}");
  };
  if (isWalked(value)) walk(value);
  else append(JSON.stringify(value));
  if (piece !== "" || pieces.length === 0) pieces.push(piece);
  return pieces;
}

/** Marks Apollo answers with in place of a response that is more than a piece (see stringifyResult). */
const MARK = "\u0000handled-response-pieces:";

/** Responses in pieces, by their mark, from Apollo's stringifying them to the handler's taking them. */
const waiting = new Map<string, string[]>();
let marks = 0;

/**
 * Apollo Server's `stringifyResult`: a response's JSON text, followed by a newline as Apollo's own
 * gives it. A response of more than one piece is kept for takePieces, and a mark given in its
 * place: Apollo's HTTP pipeline hands the mark, unread, to the GraphQL route's handler
 * (src/http/server.ts), which sends the pieces.
 */
export function stringifyResult(result: FormattedExecutionResult): string {
  const pieces = jsonPieces(result);
  pieces[pieces.length - 1] += "\n";
  if (pieces.length === 1) return pieces[0]!;
  const mark = `${MARK}${marks++}`;
  waiting.set(mark, pieces);
  return mark;
}

/** The pieces of the response `body` marks (see stringifyResult), taken; none for a response given whole. */
export function takePieces(body: string): string[] | undefined {
  if (!body.startsWith(MARK)) return undefined;
  const pieces = waiting.get(body);
  waiting.delete(body);
  return pieces;
}

/** Responses stringified in pieces and not yet taken: none once every response is sent. */
export function piecesWaiting(): number {
  return waiting.size;
}
