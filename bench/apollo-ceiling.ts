// The framework's ceilings: Apollo Server on its own standalone HTTP server, with one field that
// touches nothing, and one that reads a task run's result by primary key with one plain `pg`
// SELECT (what any API serving a stored result must at least do). Whatever the API does beyond
// these costs more. Started by the benchmark, with DATABASE_URL set to its database.
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import pg from "pg";

// The same statement as the benchmark's "pg SELECT of one result" ceiling.
const RESULT_SQL = `
  SELECT r.handle FROM task_run t JOIN state s ON s.task_run_id = t.id AND s.version = t.version
  LEFT JOIN result r ON r.id = s.result_id WHERE t.id = $1`;

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 16 });
const server = new ApolloServer({
  typeDefs: "type Query { ok: Boolean!, handle(taskRunId: ID!): String }",
  resolvers: {
    Query: {
      ok: () => true,
      handle: async (_root: unknown, { taskRunId }: { taskRunId: string }) =>
        (await pool.query<{ handle: string | null }>(RESULT_SQL, [taskRunId])).rows[0]?.handle ?? null,
    },
  },
});
await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: Number(process.env.PORT) } });
process.on("SIGTERM", () => {
  Promise.all([server.stop(), pool.end()]).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
