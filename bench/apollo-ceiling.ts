// The framework's ceiling: Apollo Server on its own standalone HTTP server, with one field that
// touches nothing. Whatever the API does beyond this costs more. Started by the benchmark.
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

const server = new ApolloServer({ typeDefs: "type Query { ok: Boolean! }", resolvers: { Query: { ok: () => true } } });
await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: Number(process.env.PORT) } });
process.on("SIGTERM", () => {
  server.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
