// The framework's ceilings: Apollo Server on its own standalone HTTP server, with one field that
// touches nothing, one that reads a task run's result by primary key with one plain `pg` SELECT
// (what any API serving a stored result must at least do), a flow run's task runs with their
// results and values, answered from one plain `pg` SELECT (and, for LOCAL values, `fs` reads of
// their files) in the shape of the API's own answer (what any GraphQL API serving that document
// must at least do), and a batch of states taken as
// the API takes it and stored with one plain `pg` statement (on the path /files, each value first
// written to a file of its own in RESULTS_DIR, as the LOCAL handler does, and the file's path
// stored). Whatever the API does beyond these costs more. Started by the benchmark, with
// DATABASE_URL set to its database.
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { JSONResolver } from "graphql-scalars";
import pg from "pg";
import { newRowId } from "../src/services/ids.js";
import { writeNewFiles } from "./ceiling-files.js";
import { FLOW_RUN_RESULTS_SQL, MULTI_ROW_SQL } from "./ceiling-sql.js";

// The same statement as the benchmark's "pg SELECT of one result" ceiling.
const RESULT_SQL = `
  SELECT r.handle FROM task_run t JOIN state s ON s.task_run_id = t.id AND s.version = t.version
  LEFT JOIN result r ON r.id = s.result_id WHERE t.id = $1`;

interface ResultColumns {
  id: string;
  version: number;
  type: string;
  handler_type: string | null;
  handle: string | null;
}

const typeDefs = `
  scalar JSON
  type Query { ok: Boolean!, handle(taskRunId: ID!): String, flowRun(id: ID!): FlowRun }
  type FlowRun { taskRuns(first: Int): TaskRunPage! }
  type TaskRunPage { nodes: [TaskRun!]! }
  type TaskRun { id: ID!, version: Int!, state: State! }
  type State { type: String!, result: Result }
  type Result { handle: String!, value: JSON }
  input SetTaskRunStateInput { taskRunId: ID!, version: Int!, state: StateInput! }
  input StateInput { type: String!, result: ResultInput }
  input ResultInput { value: JSON }
  type TaskRunVersion { id: ID!, version: Int! }
  type Mutation { setTaskRunStates(input: [SetTaskRunStateInput!]!): [TaskRunVersion!]! }
`;

interface StateInput {
  taskRunId: string;
  version: number;
  state: { type: string; result?: { value?: unknown } | null };
}

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 16 });
const resultsDir = process.env.RESULTS_DIR;

/** The JSON text of each value: the handle itself, or written to a file whose path is the handle. */
function handlesOf(input: StateInput[], files: boolean): string[] {
  const texts = input.map((entry) => JSON.stringify(entry.state.result?.value ?? null));
  if (!files) return texts;
  if (!resultsDir) throw new Error("RESULTS_DIR is not set");
  return writeNewFiles(resultsDir, texts);
}

const server = new ApolloServer<{ files: boolean }>({
  typeDefs,
  resolvers: {
    JSON: JSONResolver,
    Query: {
      ok: () => true,
      handle: async (_root: unknown, { taskRunId }: { taskRunId: string }) =>
        (await pool.query<{ handle: string | null }>(RESULT_SQL, [taskRunId])).rows[0]?.handle ?? null,
      // A JSON handle is the value's JSON text; a LOCAL one, the file that holds it.
      flowRun: async (_root: unknown, { id }: { id: string }) => {
        const { rows } = await pool.query<ResultColumns>(FLOW_RUN_RESULTS_SQL, [id]);
        // A LOCAL handle is a file's path: the files are read one after another with the calls
        // that block, as the benchmark's "pg SELECT + fs reads" ceiling reads them.
        const texts = rows.map((row) =>
          row.handle !== null && row.handler_type === "LOCAL" ? readFileSync(row.handle, "utf8") : row.handle,
        );
        return {
          taskRuns: {
            nodes: rows.map((row, i) => ({
              id: row.id,
              version: row.version,
              state: {
                type: row.type,
                result: row.handle === null ? null : { handle: row.handle, value: JSON.parse(texts[i]!) },
              },
            })),
          },
        };
      },
    },
    Mutation: {
      // A batch of values, each stored as its JSON text (or its file's path) with the same
      // statement as the benchmark's "pg multi-row INSERT" ceiling.
      setTaskRunStates: async (_root: unknown, { input }: { input: StateInput[] }, { files }: { files: boolean }) => {
        const ids = () => input.map(() => newRowId());
        await pool.query(MULTI_ROW_SQL, [
          input.map((entry) => entry.taskRunId),
          input.map((entry) => entry.version),
          ids(),
          ids(),
          handlesOf(input, files),
        ]);
        return input.map((entry) => ({ id: entry.taskRunId, version: entry.version + 1 }));
      },
    },
  },
});
await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(process.env.PORT) },
  context: async ({ req }) => ({ files: req.url?.startsWith("/files") ?? false }),
});
process.on("SIGTERM", () => {
  Promise.all([server.stop(), pool.end()]).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
