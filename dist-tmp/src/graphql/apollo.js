import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { HandledError } from "../errors.js";
import { projectFile } from "../project-files.js";
import { resolvers } from "./resolvers.js";
/** The SDL the API serves, read from the repository's schema.graphql. */
export const typeDefs = readFileSync(projectFile("schema.graphql"), "utf8");
/**
 * Shapes every error sent to clients: a HandledError keeps its message and stable code;
 * GraphQL's own errors (parse, validation, bad variables) pass through; anything else is an
 * internal error whose details go to the log only.
 */
export function formatError(formatted, error) {
    const original = unwrapResolverError(error);
    if (original instanceof HandledError) {
        return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { code: original.code } };
    }
    const code = formatted.extensions?.code;
    if (code === "INTERNAL_SERVER_ERROR" || code === undefined) {
        console.error("internal error", original);
        return {
            message: "Internal server error.",
            locations: formatted.locations,
            path: formatted.path,
            extensions: { code: "INTERNAL_SERVER_ERROR" },
        };
    }
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code } };
}
export function createApolloServer(httpServer) {
    return new ApolloServer({
        typeDefs,
        resolvers,
        formatError,
        includeStacktraceInErrorResponses: false,
        plugins: [ApolloServerPluginDrainHttpServer({ httpServer })],
    });
}
//# sourceMappingURL=apollo.js.map