import type { PrismaClient } from "../generated/prisma/client.js";
import type { HandlerType, ProjectPlaceRow } from "./rows.js";

/** The project callers are in when auth is off, and that rows made before projects moved into. */
export const DEFAULT_PROJECT = "default";

/** A place to give a project: its handler type, and the place as given. */
export interface NewPlace {
  handlerType: HandlerType;
  place: string;
}

/** Projects, and the places their handlers are held within. */
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

    /** Every project's places, with the project's name, by project and place. */
    places(): Promise<(ProjectPlaceRow & { project: { name: string } })[]> {
      return prisma.projectPlace.findMany({
        include: { project: { select: { name: true } } },
        orderBy: [{ projectId: "asc" }, { handlerType: "asc" }, { place: "asc" }],
      });
    },

    /**
     * Gives the project `projectId` exactly `places`, once `check` accepts them against the
     * places of the other projects. Changes to places are made one at a time (the table is
     * locked), so two projects are never given overlapping places at once.
     */
    async setPlaces(
      projectId: string,
      places: readonly NewPlace[],
      check: (others: readonly ProjectPlaceRow[]) => Promise<void>,
    ): Promise<void> {
      await prisma.$transaction(
        async (tx) => {
          await tx.$executeRawUnsafe(`LOCK TABLE "project_place" IN SHARE ROW EXCLUSIVE MODE`);
          await check(await tx.projectPlace.findMany({ where: { projectId: { not: projectId } } }));
          await tx.projectPlace.deleteMany({ where: { projectId } });
          await tx.projectPlace.createMany({ data: places.map((place) => ({ projectId, ...place })) });
        },
        { timeout: 30_000 },
      );
    },
  };
}

export type ProjectQueries = ReturnType<typeof projectQueries>;
