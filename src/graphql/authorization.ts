import type { ApolloServerPlugin } from "@apollo/server";
import { GraphQLError } from "graphql";
import { ErrorCode } from "../errors.js";
import { allows, type KeyScope } from "../services/api-keys.js";
import type { GraphQLContext } from "./context.js";

/**
 * Refuses, before anything runs, an operation the caller's key does not allow: queries need
 * `read`, mutations `write` (FORBIDDEN, HTTP 403). Which rows it may touch is its project's
 * business, kept by the data-access layer.
 */
export const authorization: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, contextValue }) {
        if (!operation) return;
        const needs: KeyScope = operation.operation === "mutation" ? "write" : "read";
        if (allows(contextValue.caller.can, needs)) return;
        throw new GraphQLError(
          `This API key may ${contextValue.caller.can}, and this ${operation.operation} needs ${needs}.`,
          {
            extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
          },
        );
      },
    };
  },
};
