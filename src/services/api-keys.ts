import { createHash, randomBytes } from "node:crypto";
import type { ApiKeyQueries } from "../db/api-keys.js";
import type { ProjectQueries } from "../db/projects.js";
import type { ApiKeyRow, Scope } from "../db/rows.js";
import { ErrorCode, HandledError } from "../errors.js";
import type { Logger } from "../logger.js";
import { checkText } from "../validation.js";
import { isUuid } from "./ids.js";

/** What a key may do. Each includes the ones before it: write can read, admin can write. */
export const KEY_SCOPES = ["read", "write", "admin"] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

/** Who is calling: the project its requests stay in, and what it may do there. */
export interface Caller {
  scope: Scope;
  /** The highest of the key's scopes (admin when auth is off). */
  can: KeyScope;
  /** The key's id; none when auth is off. */
  keyId?: string;
}

/** Whether a caller that `can` this may do what `needs` asks. */
export function allows(can: KeyScope, needs: KeyScope): boolean {
  return KEY_SCOPES.indexOf(can) >= KEY_SCOPES.indexOf(needs);
}

/** A key as shown to people: never the key itself, nor its hash. */
export interface KeyInfo {
  id: string;
  project: string;
  name: string;
  prefix: string;
  scopes: KeyScope[];
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface ApiKeyServiceDeps {
  keys: ApiKeyQueries;
  projects: ProjectQueries;
  /** How long a checked key is trusted without asking the database again, in ms (revocation takes this long at most). */
  cacheMs: number;
  /** Longest key name, in characters. */
  maxNameLength: number;
  logger: Logger;
  now?: () => number;
}

/** Keys look like hnd_<43 characters>: 32 random bytes, base64url. */
const KEY_FORMAT = /^hnd_[A-Za-z0-9_-]{43}$/;
const hashOf = (key: string) => createHash("sha256").update(key).digest("hex");

function unauthenticated(message: string): HandledError {
  return new HandledError(ErrorCode.UNAUTHENTICATED, message);
}

const invalidKey = () => unauthenticated("The API key is not valid (unknown, revoked or expired).");

/** The key of a `Bearer <key>` header; throws UNAUTHENTICATED for none or another form. */
function keyOf(authorization: string | undefined): string {
  if (!authorization) throw unauthenticated("This API needs a key: send `Authorization: Bearer <key>`.");
  const key = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
  if (!key || !KEY_FORMAT.test(key)) throw invalidKey();
  return key;
}

/** The caller a key makes, whatever its state; undefined when its scopes grant nothing. */
function callerOf(row: ApiKeyRow): Caller | undefined {
  const can = highestScope(row.scopes);
  return can ? { scope: { projectId: row.projectId }, can, keyId: row.id } : undefined;
}

/** The highest scope in a stored list (keys are made with one; an unknown entry grants nothing). */
export function highestScope(scopes: readonly string[]): KeyScope | undefined {
  return [...KEY_SCOPES].reverse().find((scope) => scopes.includes(scope));
}

/**
 * API keys: made with a project and a scope, shown once, kept as a SHA-256; checked on every
 * request (through a short cache), revocable, expiring, and recording when they were last used.
 */
export class ApiKeyService {
  private readonly cache = new Map<string, { caller: Caller | undefined; row: ApiKeyRow; until: number }>();
  private readonly touched = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly deps: ApiKeyServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Makes a key of project `project` (made if new) that can do `scope`, expiring at `expiresAt`
   * when given. Returns the key, which is not kept and cannot be shown again, and its info.
   */
  async create(input: {
    project: string;
    name: string;
    scope: KeyScope;
    expiresAt?: Date | null;
  }): Promise<{ key: string; info: KeyInfo }> {
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(input.project)) {
      throw new HandledError(
        ErrorCode.BAD_USER_INPUT,
        "A project name is 1 to 63 of a-z 0-9 _ -, starting with a letter or digit.",
      );
    }
    const projectId = await this.deps.projects.ensure(input.project);
    const made = await this.createIn({ projectId }, input);
    return { key: made.key, info: { ...made.info, project: input.project } };
  }

  /** Makes a key of the scope's project that can do `scope` (see `create`). */
  async createIn(
    { projectId }: Scope,
    input: { name: string; scope: KeyScope; expiresAt?: Date | null },
  ): Promise<{ key: string; info: KeyInfo }> {
    if (!KEY_SCOPES.includes(input.scope)) {
      throw new HandledError(
        ErrorCode.BAD_USER_INPUT,
        `A key's scope is one of ${KEY_SCOPES.join(", ")}, not "${input.scope}".`,
      );
    }
    checkText(input.name, "A key name", this.deps.maxNameLength);
    if (input.expiresAt && input.expiresAt.getTime() <= this.now()) {
      throw new HandledError(ErrorCode.BAD_USER_INPUT, "A key's expiry must be in the future.");
    }
    const key = `hnd_${randomBytes(32).toString("base64url")}`;
    const row = await this.deps.keys.create({
      projectId,
      name: input.name,
      hash: hashOf(key),
      prefix: key.slice(0, 12),
      scopes: [input.scope],
      expiresAt: input.expiresAt ?? null,
    });
    return { key, info: { ...this.infoOf(row), project: "" } };
  }

  /** The keys of the scope's project, newest first. */
  async listIn({ projectId }: Scope): Promise<KeyInfo[]> {
    return (await this.deps.keys.list(projectId)).map((row) => ({ ...this.infoOf(row), project: row.project.name }));
  }

  /** The keys of a project (all projects without one). */
  async list(project?: string): Promise<KeyInfo[]> {
    const projectId = project === undefined ? undefined : await this.deps.projects.idOf(project);
    if (project !== undefined && projectId === undefined) return [];
    return (await this.deps.keys.list(projectId)).map((row) => ({ ...this.infoOf(row), project: row.project.name }));
  }

  /** Revokes a key (of the scope's project, when given); its info as revoked, or undefined when there is no such key still valid. */
  async revoke(id: string, scope?: Scope): Promise<KeyInfo | undefined> {
    if (!isUuid(id)) return undefined;
    const revoked = await this.deps.keys.revoke(id, new Date(this.now()), scope);
    this.cache.clear();
    return revoked ? { ...this.infoOf(revoked), project: revoked.project.name } : undefined;
  }

  /**
   * The caller behind an Authorization header. Throws UNAUTHENTICATED when there is none, it is
   * not `Bearer <key>`, or the key is unknown, revoked or expired (one message for all, so a
   * caller learns nothing about keys it does not hold).
   */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    const cached = this.fromCache(authorization);
    if (cached) return cached;
    const key = keyOf(authorization);
    const row = await this.deps.keys.byHash(hashOf(key));
    if (!row) throw invalidKey();
    const now = this.now();
    const entry = { caller: callerOf(row), row, until: now + this.deps.cacheMs };
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(key, entry);
    return this.checked(entry, now);
  }

  /**
   * The caller behind a header whose key was checked within HANDLED_AUTH_CACHE_MS, without waiting
   * on anything; undefined when the key must be looked up (authenticate). Throws as authenticate.
   * The cache is keyed by the key itself (in memory only, like any request's header): a request
   * with a recently checked key costs neither a hash nor a statement.
   */
  fromCache(authorization: string | undefined): Caller | undefined {
    const entry = this.cache.get(keyOf(authorization));
    const now = this.now();
    if (!entry || entry.until <= now) return undefined;
    return this.checked(entry, now);
  }

  private checked(entry: { caller: Caller | undefined; row: ApiKeyRow }, now: number): Caller {
    const { row, caller } = entry;
    if (!caller || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= now)) throw invalidKey();
    this.recordUse(row.id, now);
    return caller;
  }

  /** Records a key's use, at most once a minute per key, without holding the request. */
  private recordUse(id: string, now: number): void {
    if ((this.touched.get(id) ?? 0) > now - 60_000) return;
    this.touched.set(id, now);
    this.deps.keys.touch(id, new Date(now)).catch((error: unknown) => {
      this.deps.logger.warn({ keyId: id, err: { name: (error as Error)?.name } }, "could not record an API key's use");
    });
  }

  private infoOf(row: ApiKeyRow): Omit<KeyInfo, "project"> {
    const { id, name, prefix, createdAt, expiresAt, revokedAt, lastUsedAt } = row;
    return {
      id,
      name,
      prefix,
      scopes: row.scopes.filter((s): s is KeyScope => (KEY_SCOPES as readonly string[]).includes(s)),
      createdAt,
      expiresAt,
      revokedAt,
      lastUsedAt,
    };
  }
}
