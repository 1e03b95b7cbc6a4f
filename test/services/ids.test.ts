import { describe, expect, it } from "vitest";
import { newRowId } from "../../src/services/ids.js";
import { UUID_V7 } from "../support/ids.js";

describe("newRowId", () => {
  it("makes distinct version-7 ids that sort in the order they were made, within a millisecond too", () => {
    // Many times the ids drawn from one fill of random bytes, most within the same millisecond.
    const ids = Array.from({ length: 20_000 }, () => newRowId());

    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // Beyond the timestamp and the counter, 40 random bits, new for each id.
    const sameTail = ids.filter((id, i) => i > 0 && id.slice(-10) === ids[i - 1]!.slice(-10));
    expect(sameTail).toEqual([]);
  });
});
