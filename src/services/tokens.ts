import { createHmac, timingSafeEqual } from "node:crypto";
import { ErrorCode, HandledError } from "../errors.js";

/** What an upload token lets its bearer do: put the bytes of one prepared upload, once. */
export interface UploadClaims {
  kind: "upload";
  /** The prepared upload's intent (see StorageIntent): what makes the token single-use. */
  intentId: string;
  projectId: string;
  taskRunId: string;
  handle: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/** What a download token lets its bearer do: read one result's bytes until it expires. */
export interface DownloadClaims {
  kind: "download";
  resultId: string;
  projectId: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export type TokenClaims = UploadClaims | DownloadClaims;

function refused(message: string): HandledError {
  return new HandledError(ErrorCode.TOKEN_INVALID, message);
}

/**
 * Signs and checks the tokens of upload and download URLs: the claims as base64url JSON, a dot,
 * and their HMAC-SHA256 under the server's signing secret. A token names everything it allows,
 * so a changed claim no longer matches its signature.
 */
export class TokenSigner {
  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  sign(claims: TokenClaims): string {
    const body = Buffer.from(JSON.stringify(claims), "utf8").toString("base64url");
    return `${body}.${this.mac(body)}`;
  }

  /**
   * The claims of a token of `kind`, checked: throws TOKEN_INVALID for one that is malformed,
   * signed with another secret (forged, or altered), of another kind, or expired.
   */
  verify<K extends TokenClaims["kind"]>(token: string, kind: K): Extract<TokenClaims, { kind: K }> {
    const dot = token.indexOf(".");
    const body = dot === -1 ? "" : token.slice(0, dot);
    const given = Buffer.from(dot === -1 ? "" : token.slice(dot + 1), "base64url");
    const expected = Buffer.from(this.mac(body), "base64url");
    if (body === "" || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw refused("This token is not one this server signed.");
    }
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as TokenClaims;
    } catch {
      throw refused("This token is not one this server signed.");
    }
    if (claims.kind !== kind) throw refused(`This is not a${kind === "upload" ? "n upload" : " download"} token.`);
    if (!(claims.expiresAt * 1000 > this.now())) throw refused("This token has expired.");
    return claims as Extract<TokenClaims, { kind: K }>;
  }

  private mac(body: string): string {
    return createHmac("sha256", this.secret).update(`handled-token:${body}`).digest("base64url");
  }
}
