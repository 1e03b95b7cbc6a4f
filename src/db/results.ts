import type { PrismaClient } from "../generated/prisma/client.js";
import type { CachedInputRow, ResultRow } from "./rows.js";

/** Results, and the inputs states cached from them. */
export function resultQueries(prisma: PrismaClient) {
  return {
    byIds(ids: readonly string[]): Promise<ResultRow[]> {
      return prisma.result.findMany({ where: { id: { in: [...ids] } } });
    },

    /** The inputs the given states cached, by name. */
    cachedInputsOfStates(stateIds: readonly string[]): Promise<CachedInputRow[]> {
      return prisma.cachedInput.findMany({ where: { stateId: { in: [...stateIds] } }, orderBy: { name: "asc" } });
    },
  };
}

export type ResultQueries = ReturnType<typeof resultQueries>;
