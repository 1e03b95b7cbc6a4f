import type { TaskRun } from "../generated/prisma/client.js";

/** A parameter of a flow run: its name and the task run that holds its value. */
export interface ParameterModel {
  name: string;
  taskRun: TaskRun;
}

/** The absence of a result. */
export interface NoResultModel {
  noResult: true;
}

export const NO_RESULT: NoResultModel = { noResult: true };
