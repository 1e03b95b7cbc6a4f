import type { Readable } from "node:stream";
import type { LifecycleQueries, PreparedIntent } from "../db/lifecycle.js";
import type { ResultQueries } from "../db/results.js";
import type { ResultRow, Scope } from "../db/rows.js";
import type { StateQueries } from "../db/states.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Logger } from "../logger.js";
import { withoutPolicy } from "../results/handler-definition.js";
import { type HandlerSpec, handlerConfigOf, specFromRow } from "../results/handler-spec.js";
import { parseSha256 } from "../results/integrity.js";
import { resolveResultHandler } from "../results/resolve-handler.js";
import type { ByteRange } from "../results/result-handler.js";
import type { ResultStore, ResultStream, UploadTarget } from "../results/result-store.js";
import { isUuid, newRowId } from "./ids.js";
import type { ReachService } from "./reach.js";
import type { TokenSigner } from "./tokens.js";

/** Limits and lifetimes of transfers (see config/transfers.ts). */
export interface TransferOptions {
  uploadExpiryMs: number;
  maxDownloadExpiryMs: number;
  maxUploadBytes: number;
}

export interface TransferServiceDeps {
  taskRuns: Pick<StateQueries, "loadTaskRunsForChange">;
  intents: Pick<LifecycleQueries, "recordPreparedUpload" | "claimUpload" | "completeUpload" | "removeIntents">;
  resultRows: Pick<ResultQueries, "byIds">;
  results: ResultStore;
  reach: Pick<ReachService, "of">;
  signer: TokenSigner;
  defaultHandler: HandlerSpec;
  options: TransferOptions;
  logger: Logger;
}

/** What a client asks of an upload it prepares. */
export interface UploadRequest {
  taskRunId: string;
  contentType?: string | null;
  /** Size of the bytes it will send, when known: a larger body is refused. */
  sizeBytes?: number | null;
  /** SHA-256 (hex) of the bytes it will send, when known: other bytes are refused. */
  sha256?: string | null;
}

/** Where and how a client sends a result's bytes, and the handle they will have. */
export interface PreparedUploadAnswer {
  url: string;
  method: "PUT";
  headers: { name: string; value: string }[];
  /** The handler the bytes go to (give it, with `handle`, as the state's handled result). */
  handler: HandlerSpec;
  handle: string;
  expiresAt: Date;
}

/** What the server wrote of bytes sent through it: what a state's handled result gives. */
export interface UploadedResult {
  handler: HandlerSpec;
  handle: string;
  /** Size of the bytes received. */
  sizeBytes: number;
  /** SHA-256 of the bytes stored (after any codecs), hex. */
  sha256: string;
  /** The state recording it must be set before this. */
  expiresAt: Date;
}

/** The body of an upload, and what its request says of it. */
export interface UploadBody {
  stream: Readable;
  contentType: string | undefined;
  /** Content-Length, when the request gives one. */
  contentLength: number | undefined;
}

/** A download about to be served. */
export interface Download extends ResultStream {
  /** A strong validator of the value's bytes. */
  etag: string;
  /** Whether a range of it may be asked for. */
  ranges: boolean;
}

const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** A media type as a header may carry it: type/subtype, parameters, nothing that breaks a line. */
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\r\n]*"|[\w.+-]+))*$/;

function badInput(message: string): HandledError {
  return new HandledError(ErrorCode.BAD_USER_INPUT, message);
}

/** An upload's intent is gone (swept), taken, or never was: the token is spent. */
const spent = () =>
  new HandledError(
    ErrorCode.TOKEN_INVALID,
    "This upload URL was already used, or has expired: prepare another upload with prepareResultUpload.",
  );

/**
 * Large results, moved without passing through GraphQL: uploads prepared for a task run (a URL
 * of the store's, or of this API's when the bytes must come through it), bodies streamed through
 * the API to the task run's handler, and download URLs. Every prepared upload is a write intent,
 * bound to its task run and expiring, so what a client sends and never records is swept.
 */
export class TransferService {
  /** Handler types whose store could not sign a download URL: their downloads go through the API. */
  private readonly unsigned = new Set<string>();

  constructor(private readonly deps: TransferServiceDeps) {}

  /**
   * Prepares an upload of a result of a task run of the caller's project: resolves its handler
   * as a write would, picks a handle, records the intent, and answers where to send the bytes:
   * a presigned URL of the store, or this API's `PUT /uploads/<token>` (LOCAL handlers, and
   * handlers with codecs, which the bytes must pass through). `origin` is the API's address as
   * the client reaches it.
   */
  async prepareUpload(scope: Scope, request: UploadRequest, origin: string): Promise<PreparedUploadAnswer> {
    const contentType = this.checkContentType(request.contentType);
    const sizeBytes = this.checkSize(request.sizeBytes);
    const sha256 = request.sha256 === undefined || request.sha256 === null ? null : parseSha256(request.sha256);
    const { target, id, expiresAt } = await this.prepare(scope, request.taskRunId, { sizeBytes, sha256 });
    const expiresIn = Math.floor(this.deps.options.uploadExpiryMs / 1000);
    try {
      const { handler } = target;
      // Straight to the store when the bytes stored are the bytes sent (no codecs to apply).
      if ((target.spec.codecs ?? []).length === 0 && handler.presignUpload) {
        const presigned = await handler.presignUpload(target.handle, {
          expiresInSeconds: expiresIn,
          contentType,
          sha256: sha256 ?? undefined,
        });
        return { ...this.answer(target, expiresAt), url: presigned.url, headers: headerList(presigned.headers) };
      }
      const token = this.deps.signer.sign({
        kind: "upload",
        intentId: id,
        projectId: scope.projectId,
        taskRunId: request.taskRunId,
        handle: target.handle,
        expiresAt: Math.floor(expiresAt.getTime() / 1000),
      });
      return {
        ...this.answer(target, expiresAt),
        url: `${origin}/uploads/${token}`,
        headers: [{ name: "content-type", value: contentType }],
      };
    } catch (error) {
      await this.deps.intents.removeIntents([id]).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Takes the body of a prepared upload (PUT /uploads/<token>) and streams it to the handle,
   * through the handler's codecs. The token is checked (TOKEN_INVALID: forged, expired, already
   * used), then spent; a body larger than declared (or than HANDLED_MAX_UPLOAD_BYTES) is cut off
   * with PAYLOAD_TOO_LARGE, and then, as on any failure, nothing is kept and the upload is gone.
   */
  async acceptUpload(token: string, body: UploadBody): Promise<UploadedResult> {
    const claims = this.deps.signer.verify(token, "upload");
    const intent = await this.deps.intents.claimUpload(claims.intentId, claims);
    if (!intent) throw spent();
    const spec = { ...specFromRow(intent.handlerType, intent.handlerConfig), codecs: intent.codecs } as HandlerSpec;
    const target = async () =>
      this.deps.results.uploadTarget(spec, await this.deps.reach.of({ projectId: claims.projectId }), intent.handle);
    return this.receive(target, intent.id, intent.expiresAt, body, {
      sizeBytes: intent.sizeBytes,
      sha256: intent.sha256,
    });
  }

  /**
   * Streams a request's body (PUT /results/<taskRunId>) through the task run's handler, with its
   * codecs, to a new handle, for a state to record before the answer's `expiresAt`. Fails as
   * `acceptUpload` does, leaving nothing.
   */
  async streamResult(scope: Scope, taskRunId: string, body: UploadBody): Promise<UploadedResult> {
    const { target, id, expiresAt } = await this.prepare(scope, taskRunId, {
      sizeBytes: null,
      sha256: null,
      uploaded: true,
    });
    return this.receive(async () => target, id, expiresAt, body, { sizeBytes: null, sha256: null });
  }

  /**
   * A URL the result's bytes can be fetched from for `expiresIn` seconds (clamped to
   * HANDLED_DOWNLOAD_URL_MAX_EXPIRY): a presigned URL of the store when the stored bytes are the
   * value's (no codec) and the store signs one, else (or `viaApi`) this API's `GET /results/<id>?token=`.
   */
  async downloadUrl(
    scope: Scope,
    result: ResultRow & { id: string },
    { expiresIn, viaApi }: { expiresIn: number; viaApi: boolean },
    origin: string,
  ): Promise<string> {
    if (!Number.isInteger(expiresIn) || expiresIn < 1) {
      throw badInput(`"expiresIn" must be a whole number of seconds, at least 1, not ${expiresIn}.`);
    }
    if (!result.handled) {
      throw new HandledError(
        ErrorCode.RESULT_NOT_HANDLED,
        "This result was never handled, so it has no value to serve.",
      );
    }
    const seconds = Math.min(expiresIn, Math.floor(this.deps.options.maxDownloadExpiryMs / 1000));
    if (!viaApi && result.handlerType !== "JSON" && (result.codecs ?? []).length === 0) {
      const handler = await this.deps.results.handlerOf(result, await this.deps.reach.of(scope));
      if (handler.presignDownload && !this.unsigned.has(result.handlerType)) {
        try {
          return await handler.presignDownload(result.handle, seconds);
        } catch (error) {
          // A store that cannot sign (credentials without a private key): the API serves its
          // downloads from then on, and says so once.
          this.unsigned.add(result.handlerType);
          this.deps.logger.warn(
            { handler: result.handlerType, cause: (error as { name?: string }).name },
            "the store cannot sign download URLs with these credentials; its downloads go through the API",
          );
        }
      }
    }
    const token = this.deps.signer.sign({
      kind: "download",
      resultId: result.id,
      projectId: scope.projectId,
      expiresAt: Math.floor(Date.now() / 1000) + seconds,
    });
    return `${origin}/results/${result.id}?token=${token}`;
  }

  /**
   * The bytes of the result a download token names (GET /results/<id>?token=): TOKEN_INVALID for
   * a token that is forged, expired or for another result; NOT_FOUND when the result is gone.
   * `range` is served when the result's bytes are its value's; otherwise the whole value is.
   */
  async openDownload(resultId: string, token: string, range: RangeRequest | undefined): Promise<Download> {
    const claims = this.deps.signer.verify(token, "download");
    if (claims.resultId !== resultId)
      throw new HandledError(ErrorCode.TOKEN_INVALID, "This token is for another result.");
    const [row] = isUuid(resultId) ? await this.deps.resultRows.byIds([resultId]) : [];
    if (!row) throw new HandledError(ErrorCode.NOT_FOUND, "This result no longer exists.");
    const reach = await this.deps.reach.of({ projectId: claims.projectId });
    const ranges = (row.codecs ?? []).length === 0 && row.sizeBytes !== null;
    const size = row.sizeBytes === null ? undefined : Number(row.sizeBytes);
    const wanted = ranges && range && size !== undefined ? range.resolve(size) : undefined;
    const opened = await this.deps.results.openStream(row, reach, wanted);
    const etag = `"${row.sha256 ?? `${row.id}-${opened.size}`}"`;
    return { ...opened, etag, ranges };
  }

  /** Resolves a task run's handler, picks a handle and records the intent of an upload. */
  private async prepare(
    scope: Scope,
    taskRunId: string,
    declared: { sizeBytes: number | null; sha256: string | null; uploaded?: boolean },
  ): Promise<{ target: UploadTarget; id: string; expiresAt: Date }> {
    const notFound = () => new HandledError(ErrorCode.NOT_FOUND, `No task run has the id "${taskRunId}".`);
    if (!isUuid(taskRunId)) throw notFound();
    const run = (await this.deps.taskRuns.loadTaskRunsForChange(scope, [taskRunId], [])).get(taskRunId);
    if (!run) throw notFound();
    const reach = await this.deps.reach.of(scope);
    const spec = resolveResultHandler(run.task, run.flow, this.deps.defaultHandler);
    const target = await this.deps.results.uploadTarget(spec, reach);
    const written = withoutPolicy(spec) as HandlerSpec;
    const id = newRowId();
    const expiresAt = await this.deps.intents.recordPreparedUpload(
      scope,
      {
        id,
        handlerType: written.type,
        handlerConfig: handlerConfigOf(written),
        handle: target.handle,
        sizeBytes: declared.sizeBytes,
        taskRunId,
        codecs: spec.codecs ?? [],
        uploaded: declared.uploaded ?? false,
        sha256: declared.sha256,
      },
      this.deps.options.uploadExpiryMs / 1000,
    );
    return { target, id, expiresAt };
  }

  /**
   * Streams a body to an upload's target (resolved by `targetOf`, inside the failure handling)
   * and keeps what was learnt of it; on failure nothing is left, and the intent goes.
   */
  private async receive(
    targetOf: () => Promise<UploadTarget>,
    intentId: string,
    expiresAt: Date,
    body: UploadBody,
    declared: { sizeBytes: number | null; sha256: string | null },
  ): Promise<UploadedResult> {
    try {
      const maxBytes = declared.sizeBytes ?? this.deps.options.maxUploadBytes;
      if (body.contentLength !== undefined && body.contentLength > maxBytes) {
        throw new HandledError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `The request body is ${body.contentLength} bytes, over the ${maxBytes} ${declared.sizeBytes === null ? "this server accepts (HANDLED_MAX_UPLOAD_BYTES)" : "declared"}; nothing was kept.`,
        );
      }
      const target = await targetOf();
      const written = await this.deps.results.writeStream(target, body.stream, {
        maxBytes,
        contentType: this.checkContentType(body.contentType),
        sha256: declared.sha256,
        sizeBytes: declared.sizeBytes,
        what: "The request body",
      });
      await this.deps.intents.completeUpload(intentId, written);
      return {
        ...this.answer(target, expiresAt),
        sizeBytes: written.valueBytes,
        sha256: written.sha256,
      };
    } catch (error) {
      await this.deps.intents.removeIntents([intentId]).catch(() => undefined);
      throw error;
    }
  }

  private answer(target: UploadTarget, expiresAt: Date) {
    return {
      method: "PUT" as const,
      handler: withoutPolicy(target.spec) as HandlerSpec,
      handle: target.handle,
      expiresAt,
    };
  }

  private checkContentType(given: string | null | undefined): string {
    if (given === undefined || given === null || given === "") return DEFAULT_CONTENT_TYPE;
    if (given.length > 200 || !CONTENT_TYPE.test(given)) {
      throw badInput(`"${given.slice(0, 200)}" is not a media type such as application/json.`);
    }
    return given;
  }

  private checkSize(given: number | null | undefined): number | null {
    if (given === undefined || given === null) return null;
    if (!Number.isSafeInteger(given) || given < 0)
      throw badInput(`"sizeBytes" must be a whole number of bytes, not ${given}.`);
    const max = this.deps.options.maxUploadBytes;
    if (given > max) {
      throw new HandledError(
        ErrorCode.VALUE_TOO_LARGE,
        `The result is ${given} bytes; this server accepts at most ${max} (HANDLED_MAX_UPLOAD_BYTES).`,
      );
    }
    return given;
  }
}

/** A Range header's one range, resolved against the size of what it asks of. */
export interface RangeRequest {
  /** The bytes asked for; throws RANGE_NOT_SATISFIABLE (an HTTP 416) when none of them exists. */
  resolve(size: number): ByteRange;
}

/** A prepared upload's intent, as a state records it (see StateService). */
export function preparedResult(intent: PreparedIntent) {
  return {
    spec: specFromRow(intent.handlerType, intent.handlerConfig),
    handle: intent.handle,
    storedBytes: intent.sizeBytes,
    sha256: intent.sha256,
    valueBytes: intent.valueBytes,
    codecs: intent.codecs,
    keyId: intent.keyId,
  };
}

/** Headers as GraphQL lists them. */
function headerList(headers: Record<string, string>): { name: string; value: string }[] {
  return Object.entries(headers).map(([name, value]) => ({ name, value }));
}
