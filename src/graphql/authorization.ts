import { GraphQLError, type OperationDefinitionNode } from "graphql";
import { ErrorCode, HandledError } from "../errors.js";
import { allows, type Caller, type KeyScope } from "../services/api-keys.js";

/**
 * Throws, before anything runs, for an operation the caller's key does not allow: queries need
 * `read`, mutations `write` (FORBIDDEN, HTTP 403). Which rows it may touch is its project's
 * business, kept by the data-access layer.
 */
export function authorize(operation: OperationDefinitionNode, caller: Caller): void {
  const needs: KeyScope = operation.operation === "mutation" ? "write" : "read";
  if (allows(caller.can, needs)) return;
  throw new GraphQLError(`This API key may ${caller.can}, and this ${operation.operation} needs ${needs}.`, {
    extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
  });
}

/** Throws FORBIDDEN unless the caller's key may do `needs` (key management needs `admin`). */
export function requireScope(caller: Caller, needs: KeyScope): void {
  if (!allows(caller.can, needs)) {
    throw new HandledError(ErrorCode.FORBIDDEN, `This API key may ${caller.can}, and this needs ${needs}.`);
  }
}
