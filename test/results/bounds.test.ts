import { describe, expect, it } from "vitest";
import { checkBounds, isUnder, overlap } from "../../src/results/bounds.js";

describe("places", () => {
  it("hold what is under them by whole segments only", () => {
    expect(isUnder("/data/a/x.json", "/data/a")).toBe(true);
    expect(isUnder("/data/a", "/data/a")).toBe(true);
    expect(isUnder("/data/ab/x.json", "/data/a")).toBe(false);
    expect(isUnder("/data/x.json", "/")).toBe(true);
    expect(isUnder("s3://shared/a/x.json", "s3://shared")).toBe(true);
    expect(isUnder("s3://shared-too/x.json", "s3://shared")).toBe(false);
    expect(isUnder("s3://shared/ab/x.json", "s3://shared/a")).toBe(false);
  });

  it("overlap when one holds the other", () => {
    expect(overlap("/data", "/data/a")).toBe(true);
    expect(overlap("/data/a", "/data")).toBe(true);
    expect(overlap("/data/a", "/data/b")).toBe(false);
  });

  it("refuse, with one message, what is outside a caller's own places or inside another's", () => {
    const bounds = { within: ["/data/a"], outside: ["/data/a/b-took-this"] };
    expect(() => checkBounds("/data/a/x.json", bounds, "It")).not.toThrow();
    const refusals = ["/data/elsewhere/x.json", "/data/a/b-took-this/x.json"].map((location) => {
      try {
        checkBounds(location, bounds, "It");
      } catch (error) {
        return error;
      }
      return undefined;
    });
    expect(refusals).toMatchObject([
      { code: "HANDLE_OUT_OF_BOUNDS", message: "It is outside what this project may read and write." },
      { code: "HANDLE_OUT_OF_BOUNDS", message: "It is outside what this project may read and write." },
    ]);
    expect(() => checkBounds("/anywhere", { outside: ["/data/a"] }, "It")).not.toThrow();
    expect(() => checkBounds("/anywhere", undefined, "It")).not.toThrow();
  });
});
