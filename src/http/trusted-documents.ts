import { TRUSTED_DOCUMENTS } from "../generated/trusted-documents.js";
import type { Caller } from "../services/api-keys.js";

/**
 * What a request naming `documentId` (or none) may run, for both GraphQL fronts (POST /graphql,
 * /graphql/stream): the text of the SDK's operation it names; else, with trusted documents only and
 * a key without admin, a refusal to send as 403 DOCUMENT_NOT_TRUSTED; else nothing to change.
 */
export function trustedDocumentOf(
  documentId: unknown,
  caller: Caller | undefined,
  trustedOnly: boolean,
): { text: string } | { refusal: string } | undefined {
  const text = typeof documentId === "string" ? TRUSTED_DOCUMENTS.get(documentId) : undefined;
  if (text !== undefined) return { text };
  if (!trustedOnly || !caller || caller.can === "admin") return undefined;
  return {
    refusal:
      documentId === undefined
        ? "This API key may run only the SDK's operations, named by their documentId; use the SDK, or an admin key."
        : "The documentId names none of the operations of this server's SDK; use the SDK of this server's version.",
  };
}
