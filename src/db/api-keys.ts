import type { PrismaClient } from "../generated/prisma/client.js";
import type { ApiKeyRow, Scope } from "./rows.js";

/** A key to record: everything but what the database sets. */
export interface NewApiKey {
  projectId: string;
  name: string;
  hash: string;
  prefix: string;
  scopes: string[];
  expiresAt: Date | null;
}

/** API keys. Only their hashes are kept; a key is found by the hash of what a caller sends. */
export function apiKeyQueries(prisma: PrismaClient) {
  return {
    create(key: NewApiKey): Promise<ApiKeyRow> {
      return prisma.apiKey.create({ data: key });
    },

    /** The key with this hash, whatever its project (the key is what decides the project). */
    byHash(hash: string): Promise<ApiKeyRow | null> {
      return prisma.apiKey.findUnique({ where: { hash } });
    },

    /** The keys of a project, or of every project, newest first, with their project's name. */
    list(projectId?: string): Promise<(ApiKeyRow & { project: { name: string } })[]> {
      return prisma.apiKey.findMany({
        where: projectId ? { projectId } : {},
        include: { project: { select: { name: true } } },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      });
    },

    /**
     * Revokes a key of the scope's project (of any, without a scope) that is not revoked yet;
     * returns it as revoked, or null when there is no such key.
     */
    async revoke(id: string, at: Date, scope?: Scope): Promise<(ApiKeyRow & { project: { name: string } }) | null> {
      const { count } = await prisma.apiKey.updateMany({
        where: { id, ...(scope ? { projectId: scope.projectId } : {}), revokedAt: null },
        data: { revokedAt: at },
      });
      if (count !== 1) return null;
      return prisma.apiKey.findUnique({ where: { id }, include: { project: { select: { name: true } } } });
    },

    /** Records that a key was used. */
    async touch(id: string, at: Date): Promise<void> {
      await prisma.apiKey.update({ where: { id }, data: { lastUsedAt: at } });
    },
  };
}

export type ApiKeyQueries = ReturnType<typeof apiKeyQueries>;
