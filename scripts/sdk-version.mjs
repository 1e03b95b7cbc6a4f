// The SDK's version follows the API's schema. sdk/released-schema.graphql is the schema of the
// SDK's version it names; schema.graphql may differ from it only with a newer version in
// sdk/package.json: a major one for a breaking change, a minor one for any other.
//   node scripts/sdk-version.mjs check    what the suite runs (test/client/versioning.test.ts)
//   npm run sdk:record                    after bumping sdk/package.json: records this schema as its
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { CriticalityLevel, diff } from "@graphql-inspector/core";

// The graphql graphql-inspector loads (its CommonJS build): a schema built by another copy is refused.
const { buildSchema } = createRequire(import.meta.url)("graphql");

const root = new URL("..", import.meta.url);
const RELEASED = new URL("sdk/released-schema.graphql", root);
const HEADER = /^# The schema of @handled\/client (\d+\.\d+\.\d+)\b.*\n/;

/** The version the SDK's package.json says, and the schema it is built from. */
export function current() {
  const { version } = JSON.parse(readFileSync(new URL("sdk/package.json", root), "utf8"));
  return { version, schema: readFileSync(new URL("schema.graphql", root), "utf8") };
}

/** The last recorded release: its version and schema. */
export function released() {
  const text = readFileSync(RELEASED, "utf8");
  const match = HEADER.exec(text);
  if (!match) throw new Error(`${RELEASED.pathname} does not start with "# The schema of @handled/client X.Y.Z".`);
  return { version: match[1], schema: text.slice(match[0].length) };
}

const parts = (version) => version.split(".").map(Number);

/**
 * What a schema change asks of the SDK's version, against a release: the changes (breaking ones
 * first), the bump they need ("major", "minor" or none), and the problem when `version` does not
 * make that bump, else undefined.
 */
export async function checkVersion(release, next) {
  const changes = await diff(buildSchema(release.schema), buildSchema(next.schema));
  const breaking = changes.filter((change) => change.criticality.level === CriticalityLevel.Breaking);
  const needs = breaking.length > 0 ? "major" : changes.length > 0 ? "minor" : undefined;
  const [major, minor] = parts(next.version);
  const [releasedMajor, releasedMinor] = parts(release.version);
  const bumped =
    needs === "major"
      ? major > releasedMajor
      : needs === "minor"
        ? major > releasedMajor || (major === releasedMajor && minor > releasedMinor)
        : true;
  const listed = [...breaking, ...changes.filter((change) => !breaking.includes(change))].map(
    (change) => `${change.criticality.level === CriticalityLevel.Breaking ? "breaking: " : ""}${change.message}`,
  );
  const problem = bumped
    ? undefined
    : `schema.graphql changed since @handled/client ${release.version} (${listed.length} changes, ${breaking.length} breaking), ` +
      `which needs a ${needs} version: set sdk/package.json's version past ${release.version}, then run ` +
      `\`node scripts/sdk-version.mjs record\`.\n  ${listed.join("\n  ")}`;
  return { changes: listed, needs, problem };
}

/** Records the current schema as the current version's; refuses a version that does not follow it. */
export async function record() {
  const next = current();
  const { problem } = await checkVersion(released(), next);
  if (problem) throw new Error(problem);
  writeFileSync(
    RELEASED,
    `# The schema of @handled/client ${next.version}: written by \`node scripts/sdk-version.mjs record\`; do not edit.\n${next.schema}`,
  );
}

if (import.meta.url === new URL(process.argv[1] ?? "", "file://").href) {
  const command = process.argv[2];
  try {
    if (command === "record") {
      await record();
      console.log(`Recorded schema.graphql as @handled/client ${current().version}'s.`);
    } else if (command === "check") {
      const next = current();
      const release = released();
      const { problem, changes } = await checkVersion(release, next);
      if (problem) throw new Error(problem);
      if (next.version !== release.version || changes.length > 0) {
        throw new Error(
          `sdk/released-schema.graphql is @handled/client ${release.version}'s; run \`node scripts/sdk-version.mjs record\` for ${next.version}.`,
        );
      }
      console.log(`schema.graphql is @handled/client ${next.version}'s.`);
    } else {
      throw new Error("usage: node scripts/sdk-version.mjs check|record");
    }
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
