import type { PrismaClient } from "../generated/prisma/client.js";

/** The project callers are in when auth is off, and that rows made before projects moved into. */
export const DEFAULT_PROJECT = "default";

/** Projects. */
export function projectQueries(prisma: PrismaClient) {
  return {
    /** The id of the project named `name`; undefined when there is none. */
    async idOf(name: string): Promise<string | undefined> {
      return (await prisma.project.findUnique({ where: { name }, select: { id: true } }))?.id;
    },

    /** The id of the project named `name`, made if there is none. */
    async ensure(name: string): Promise<string> {
      const project = await prisma.project.upsert({
        where: { name },
        create: { name },
        update: {},
        select: { id: true },
      });
      return project.id;
    },
  };
}

export type ProjectQueries = ReturnType<typeof projectQueries>;
