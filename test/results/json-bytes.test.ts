import { describe, expect, it } from "vitest";
import { ErrorCode, HandledError } from "../../src/errors.js";
import { jsonBytes } from "../../src/results/json-bytes.js";
import { jsonValues as values } from "../support/json-values.js";

const stringified = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8");
// Over the size from which values are written in place rather than through JSON.stringify.
const pad = "p".repeat(70_000);

function refusal(run: () => unknown): HandledError {
  try {
    run();
  } catch (error) {
    if (error instanceof HandledError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("a value's JSON bytes", () => {
  it("are those of JSON.stringify, for small values and for large ones written in place", () => {
    let compared = 0;
    for (const value of values(7, 3000)) {
      for (const shape of [value, { pad, value }, [pad, value, { value }]]) {
        expect(jsonBytes(shape, 100, 1e9).equals(stringified(shape))).toBe(true);
        compared++;
      }
    }
    expect(compared).toBe(9000);
  });

  it("are those of JSON.stringify for what is not plain JSON, left to it", () => {
    const date = new Date(0);
    for (const value of [
      { pad, date },
      { pad, skipped: undefined, kept: 1 },
      [pad, undefined, () => 1],
      { pad, toJSON: () => "own" },
      { pad, nested: { toJSON: () => ({ replaced: true }) } },
      Object.assign(Object.create(null) as object, { pad, n: 1 }),
    ]) {
      expect(jsonBytes(value, 100, 1e9).toString()).toBe(JSON.stringify(value));
    }
  });

  it("refuse a value nested deeper than the limit, small or large", () => {
    let deep: unknown = pad;
    for (let i = 0; i < 11; i++) deep = [deep];
    expect(refusal(() => jsonBytes(deep, 10, 1e9)).code).toBe(ErrorCode.BAD_USER_INPUT);
    expect(jsonBytes(deep, 11, 1e9).equals(stringified(deep))).toBe(true);
    expect(refusal(() => jsonBytes([[[1]]], 2, 1e9)).code).toBe(ErrorCode.BAD_USER_INPUT);
    // Also past what JSON.stringify would be left with: here the walk meets `undefined` first.
    expect(refusal(() => jsonBytes({ skipped: undefined, deep }, 10, 1e9)).code).toBe(ErrorCode.BAD_USER_INPUT);
  });

  it("refuse a value over the size limit by its exact size, small or large", () => {
    const large = { pad, text: "é".repeat(10) };
    const size = stringified(large).length;
    expect(jsonBytes(large, 100, size).length).toBe(size);
    const error = refusal(() => jsonBytes(large, 100, size - 1));
    expect(error.code).toBe(ErrorCode.VALUE_TOO_LARGE);
    expect(error.message).toContain(`${size} bytes`);
    expect(refusal(() => jsonBytes({ a: "é" }, 100, 9)).code).toBe(ErrorCode.VALUE_TOO_LARGE);
  });
});
