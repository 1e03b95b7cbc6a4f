// @handled/client/documents: the SDK's operations as parsed, typed documents (TypedDocumentNode),
// for Apollo Client, urql or any client that takes a DocumentNode; with their types, and
// possibleTypes for Apollo Client's cache. Plain objects: no GraphQL runtime is needed to load them.
export * from "./generated-ast/graphql.js";
export { possibleTypes } from "./possible-types.js";
