import { gcsHandler } from "./gcs.js";
import { jsonHandler } from "./json.js";
import { localHandler } from "./local.js";
import { s3Handler } from "./s3.js";

/**
 * Every handler type the server has, one definition each. The list of types, the spec schema and
 * the registry's factories are derived from it; the GraphQL and Prisma HandlerType enums must name
 * the same types (a test checks they do).
 */
export const HANDLER_DEFINITIONS = [jsonHandler, localHandler, s3Handler, gcsHandler] as const;
