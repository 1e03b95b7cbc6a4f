import { ErrorCode, HandledError } from "../errors.js";
import { checkJsonDepth, tooDeep } from "../validation.js";

/**
 * A value's JSON as UTF-8 bytes, exactly those of `Buffer.from(JSON.stringify(value))`.
 *
 * `JSON.stringify` of a large value holds its text in pieces and then whole, about twice the
 * text, and its bytes make a third copy. Here a value of plain JSON (what a request's JSON
 * parses to) is measured first and written straight into a buffer of its size, so a large value
 * is held as the parsed value and its bytes only. Anything else (a `toJSON`, a class instance,
 * `undefined` in an object) is left to `JSON.stringify`.
 */

/** Below this many bytes, JSON.stringify is faster and its copies are small. */
const WRITE_IN_PLACE_FROM = 64 * 1024;

// Characters a JSON string holds as they are, one byte each in UTF-8: printable ASCII but `"` and `\`.
const NEEDS_ESCAPE_OR_UTF8 = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/** The byte length of a string's JSON form, or when not `exact` a lower bound of it. */
function stringBytes(text: string, exact: boolean): number {
  return exact && NEEDS_ESCAPE_OR_UTF8.test(text) ? Buffer.byteLength(JSON.stringify(text), "utf8") : text.length + 2;
}

/** An object JSON.stringify writes property by property: of Object's prototype or none, without a toJSON. */
export function isPlainObject(node: object): node is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(node);
  return (
    (prototype === Object.prototype || prototype === null) &&
    typeof (node as { toJSON?: unknown }).toJSON !== "function"
  );
}

/** A value JSON.stringify would write as something other than itself, or skip. */
class NotPlainJson extends Error {}

/**
 * Checks the value's depth (BAD_USER_INPUT past `maxDepth`, before going deeper, so the walk
 * recurses at most `maxDepth` levels: at most 1000, HANDLED_MAX_JSON_DEPTH's bound) and returns
 * the byte length of its JSON (when not `exact`, a lower bound of it, found faster), or null when
 * it is not plain JSON (and then stops, its depth not fully checked).
 */
function measure(value: unknown, maxDepth: number, exact: boolean): number | null {
  const walk = (node: unknown, depth: number): number => {
    switch (typeof node) {
      case "string":
        return stringBytes(node, exact);
      case "number":
        return exact ? (Number.isFinite(node) ? String(node).length : 4) : 1;
      case "boolean":
        return node ? 4 : 5;
      case "object": {
        if (node === null) return 4;
        if (depth > maxDepth) throw tooDeep(maxDepth);
        if (Array.isArray(node)) {
          if (Object.getPrototypeOf(node) !== Array.prototype) throw new NotPlainJson();
          let bytes = 2 + Math.max(0, node.length - 1);
          for (const item of node) bytes += walk(item, depth + 1);
          return bytes;
        }
        if (!isPlainObject(node)) throw new NotPlainJson();
        let bytes = 2;
        let first = true;
        for (const key of Object.keys(node)) {
          bytes += (first ? 0 : 1) + stringBytes(key, exact) + 1 + walk(node[key], depth + 1);
          first = false;
        }
        return bytes;
      }
      default:
        // undefined, functions and symbols are skipped or written as null; bigints throw.
        throw new NotPlainJson();
    }
  };
  try {
    return walk(value, 1);
  } catch (error) {
    if (error instanceof NotPlainJson) return null;
    throw error;
  }
}

/** Writes the JSON of a value `measure` accepted into `target` at `at`; returns where it ends. */
function writeInto(target: Buffer, at: number, node: unknown): number {
  switch (typeof node) {
    case "string":
      if (NEEDS_ESCAPE_OR_UTF8.test(node)) return at + target.write(JSON.stringify(node), at, "utf8");
      target[at] = 0x22;
      at += 1 + target.write(node, at + 1, "latin1");
      target[at] = 0x22;
      return at + 1;
    case "number":
      return at + target.write(Number.isFinite(node) ? String(node) : "null", at, "latin1");
    case "boolean":
      return at + target.write(node ? "true" : "false", at, "latin1");
    default: {
      if (node === null) return at + target.write("null", at, "latin1");
      if (Array.isArray(node)) {
        target[at++] = 0x5b;
        for (let i = 0; i < node.length; i++) {
          if (i > 0) target[at++] = 0x2c;
          at = writeInto(target, at, node[i]);
        }
        target[at] = 0x5d;
        return at + 1;
      }
      const object = node as Record<string, unknown>;
      target[at++] = 0x7b;
      let first = true;
      for (const key of Object.keys(object)) {
        if (!first) target[at++] = 0x2c;
        first = false;
        at = writeInto(target, at, key);
        target[at++] = 0x3a;
        at = writeInto(target, at, object[key]);
      }
      target[at] = 0x7d;
      return at + 1;
    }
  }
}

/**
 * The UTF-8 bytes of a value's JSON. Throws BAD_USER_INPUT for a value nested deeper than
 * `maxDepth`, VALUE_TOO_LARGE when its JSON is over `maxBytes` (before encoding it, when the
 * value is plain JSON).
 */
export function jsonBytes(value: unknown, maxDepth: number, maxBytes: number): Buffer {
  // A first walk checks the depth and bounds the size from below; only a value that may be large
  // is measured exactly.
  const atLeast = measure(value, maxDepth, false);
  const size = atLeast === null || atLeast < WRITE_IN_PLACE_FROM ? null : measure(value, maxDepth, true);
  if (size !== null) tooLarge(size, maxBytes);
  if (size === null) {
    if (atLeast === null) checkJsonDepth(value, maxDepth);
    const bytes = Buffer.from(JSON.stringify(value), "utf8");
    tooLarge(bytes.length, maxBytes);
    return bytes;
  }
  const bytes = Buffer.allocUnsafeSlow(size);
  const end = writeInto(bytes, 0, value);
  if (end !== size) throw new Error(`JSON of ${size} bytes measured came out as ${end}`);
  return bytes;
}

function tooLarge(bytes: number, maxBytes: number): void {
  if (bytes > maxBytes) {
    throw new HandledError(
      ErrorCode.VALUE_TOO_LARGE,
      `The value is ${bytes} bytes of JSON; this server accepts at most ${maxBytes} (HANDLED_MAX_VALUE_BYTES).`,
    );
  }
}
