import { describe, expect, it } from "vitest";
import { checkVersion, current, released } from "../../scripts/sdk-version.mjs";

// The SDK's version follows the schema: a breaking change of schema.graphql needs a new major
// version of @handled/client, any other change a new minor one (graphql-inspector tells which).

describe("the SDK's version", () => {
  it("is the one sdk/released-schema.graphql records for this schema", async () => {
    const release = released();
    const next = current();
    const { changes, problem } = await checkVersion(release, next);
    expect(problem).toBeUndefined();
    // Any change is recorded with its version (npm run sdk:record).
    expect({ version: next.version, changes }).toEqual({ version: release.version, changes: [] });
  });

  it("must take a new major version for a breaking change, and a minor one for an addition", async () => {
    const release = released();
    const [major, minor] = release.version.split(".").map(Number) as [number, number];
    const nextMinor = `${major}.${minor + 1}.0`;
    const nextMajor = `${major + 1}.0.0`;
    const removed = release.schema.replace(/\n {2}"Whether items come before[^\n]*\n {2}hasPreviousPage: Boolean!/, "");
    expect(removed).not.toBe(release.schema);
    const breaking = await checkVersion(release, { version: nextMinor, schema: removed });
    expect(breaking.needs).toBe("major");
    expect(breaking.problem).toMatch(/needs a major version/);
    expect(breaking.changes[0]).toMatch(/^breaking: .*hasPreviousPage/);
    expect((await checkVersion(release, { version: nextMajor, schema: removed })).problem).toBeUndefined();

    const added = release.schema.replace("type PageInfo {", "type PageInfo {\n  total: Int");
    expect((await checkVersion(release, { version: release.version, schema: added })).problem).toMatch(
      /needs a minor version/,
    );
    expect((await checkVersion(release, { version: nextMinor, schema: added })).problem).toBeUndefined();
  });
});
