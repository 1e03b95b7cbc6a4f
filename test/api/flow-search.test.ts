import { describe, expect } from "vitest";
import { BrowseFlows, CreateFlow } from "../support/documents.js";
import { test } from "../support/fixtures.js";

// Searching flows by name, as the results browser does: in a file of its own, so that no other
// test's flows match.

describe("flows by name", () => {
  test("lists those whose name contains the text, ignoring case, with % and _ taken literally, page by page", async ({
    t,
  }) => {
    for (const name of [
      "Nightly ETL",
      "nightly-report",
      "weekly etl",
      "100% done",
      "under_score",
      "underXscore",
      "back\\slash",
    ]) {
      await t.ok(CreateFlow, { input: { name, tasks: [] } });
    }
    const names = async (nameContains: string, first = 20, after: string | null = null) => {
      const { flows } = await t.ok(BrowseFlows, { first, after, nameContains });
      return { names: flows.nodes.map((flow) => flow.name), pageInfo: flows.pageInfo };
    };
    expect((await names("NIGHTLY")).names).toEqual(["nightly-report", "Nightly ETL"]);
    expect((await names("etl")).names).toEqual(["weekly etl", "Nightly ETL"]);
    expect((await names("%")).names).toEqual(["100% done"]);
    expect((await names("_")).names).toEqual(["under_score"]);
    expect((await names("\\")).names).toEqual(["back\\slash"]);
    expect((await names("no such flow")).names).toEqual([]);
    const first = await names("ly", 1);
    expect(first.names).toEqual(["weekly etl"]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await names("ly", 5, first.pageInfo.endCursor);
    expect(rest.names).toEqual(["nightly-report", "Nightly ETL"]);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    // Checked as names are.
    const [error] = await t.fail(BrowseFlows, { nameContains: "x".repeat(1000) });
    expect(error?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});
