import generated from "./generated/possible-types.js";

/**
 * Which object types each union of the schema may be (`ResultOrNone`: `Result` or `NoResult`),
 * for Apollo Client: `new InMemoryCache({ possibleTypes })`. Without it, Apollo Client cannot tell
 * which fragment on a union applies and leaves their fields out, with no error.
 */
export const possibleTypes: Record<string, string[]> = generated.possibleTypes;
