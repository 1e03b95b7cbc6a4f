import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import type { FlowRow, HandlerType, TaskRow } from "./rows.js";

/** A handler as a flow or task row keeps it: both null means "none". */
export interface HandlerColumns {
  handlerType: HandlerType | null;
  handlerConfig: Record<string, string> | null;
}

/** A flow to create, with its tasks in order. */
export interface NewFlowRow extends HandlerColumns {
  name: string;
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
    /** Up to `limit` flows, newest first, after `after` when given. */
    page(limit: number, after: FlowCursor | null): Promise<FlowRow[]> {
      return prisma.flow.findMany({
        where: after
          ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }
          : {},
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: limit,
      });
    },

    byIds(ids: readonly string[]): Promise<FlowRow[]> {
      return prisma.flow.findMany({ where: { id: { in: [...ids] } } });
    },

    /** A flow with its tasks, in no particular order; null when there is none. */
    withTasks(id: string): Promise<(FlowRow & { tasks: TaskRow[] }) | null> {
      return prisma.flow.findUnique({ where: { id }, include: { tasks: true } });
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

    /** Creates a flow and its tasks, their positions in the order given. */
    create(flow: NewFlowRow): Promise<FlowRow> {
      return prisma.flow.create({
        data: {
          name: flow.name,
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
