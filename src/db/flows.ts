import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import type { FlowRow, HandlerType, Scope, TaskRow } from "./rows.js";

/** A handler as a flow or task row keeps it: both null means "none". */
export interface HandlerColumns {
  handlerType: HandlerType | null;
  handlerConfig: Record<string, unknown> | null;
}

/** A flow to create, with its tasks in order. */
export interface NewFlowRow extends HandlerColumns {
  name: string;
  retentionDays: number | null;
  tasks: (HandlerColumns & { name: string; isParameter: boolean })[];
}

/** Where a page of flows starts: after this flow, newest first. */
export interface FlowCursor {
  createdAt: Date;
  id: string;
}

function handlerData({ handlerType, handlerConfig }: HandlerColumns) {
  return { handlerType, handlerConfig: (handlerConfig ?? undefined) as Prisma.InputJsonObject | undefined };
}

/** Flows and their tasks. */
export function flowQueries(prisma: PrismaClient) {
  return {
    /**
     * Up to `limit` flows of the scope's project, newest first, after `after` when given; with
     * `nameContains`, only those whose name contains it, ignoring case.
     */
    page({ projectId }: Scope, limit: number, after: FlowCursor | null, nameContains?: string): Promise<FlowRow[]> {
      return prisma.flow.findMany({
        where: {
          projectId,
          // Prisma's `contains` is ILIKE '%…%': the text's own % and _ are escaped to mean themselves.
          ...(nameContains ? { name: { contains: nameContains.replace(/[\\%_]/g, "\\$&"), mode: "insensitive" } } : {}),
          ...(after
            ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }
            : {}),
        },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: limit,
      });
    },

    byIds({ projectId }: Scope, ids: readonly string[]): Promise<FlowRow[]> {
      return prisma.flow.findMany({ where: { id: { in: [...ids] }, projectId } });
    },

    /** A flow of the scope's project with its tasks, in no particular order; null when there is none. */
    withTasks({ projectId }: Scope, id: string): Promise<(FlowRow & { tasks: TaskRow[] }) | null> {
      return prisma.flow.findFirst({ where: { id, projectId }, include: { tasks: true } });
    },

    /** The tasks of the given flows, each flow's in order. */
    tasksOfFlows(flowIds: readonly string[]): Promise<TaskRow[]> {
      return prisma.task.findMany({
        where: { flowId: { in: [...flowIds] } },
        orderBy: [{ flowId: "asc" }, { position: "asc" }],
      });
    },

    tasksByIds(ids: readonly string[]): Promise<TaskRow[]> {
      return prisma.task.findMany({ where: { id: { in: [...ids] } } });
    },

    /** Creates a flow of the scope's project and its tasks, their positions in the order given. */
    create({ projectId }: Scope, flow: NewFlowRow): Promise<FlowRow> {
      return prisma.flow.create({
        data: {
          projectId,
          name: flow.name,
          retentionDays: flow.retentionDays,
          ...handlerData(flow),
          tasks: {
            create: flow.tasks.map((task, position) => ({
              name: task.name,
              isParameter: task.isParameter,
              position,
              ...handlerData(task),
            })),
          },
        },
      });
    },
  };
}

export type FlowQueries = ReturnType<typeof flowQueries>;
