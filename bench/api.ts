import { apiHeaders } from "./load.js";
// Talking to the API under test: plain fetch, so the benchmark measures the server only.

export interface TaskRunSlot {
  /** The task runs of one flow run, all written together. */
  taskRunIds: string[];
  /** Their current version (they move together). */
  version: number;
}

export class ApiClient {
  /** `metricsOrigin`: where its GET /metrics is (HANDLED_METRICS_PORT). */
  constructor(
    readonly origin: string,
    readonly metricsOrigin: string,
  ) {}

  get url(): string {
    return `${this.origin}/graphql`;
  }

  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    return this.post<T>(JSON.stringify({ query, variables }));
  }

  async post<T>(body: string): Promise<T> {
    const response = await fetch(this.url, { method: "POST", headers: apiHeaders, body });
    const parsed = (await response.json()) as { data?: T; errors?: unknown };
    if (parsed.errors || !parsed.data)
      throw new Error(`the API answered ${response.status}: ${JSON.stringify(parsed.errors)}`);
    return parsed.data;
  }

  /** SQL statements the server has sent since it started, from its /metrics. */
  async sqlStatements(): Promise<number> {
    const text = await (await fetch(`${this.metricsOrigin}/metrics`)).text();
    const match = /^handled_sql_statements_total (\d+)/m.exec(text);
    if (!match) throw new Error("/metrics has no handled_sql_statements_total");
    return Number(match[1]);
  }

  /** SQL statements per request while `work` runs alone against the server. */
  async statementsPer(requests: number, work: () => Promise<unknown>): Promise<number> {
    const before = await this.sqlStatements();
    for (let i = 0; i < requests; i++) await work();
    return ((await this.sqlStatements()) - before) / requests;
  }

  /** Creates a flow of `tasks` tasks using `handler`; returns its id. */
  async createFlow(name: string, handler: Record<string, unknown>, tasks: number): Promise<string> {
    const { createFlow } = await this.request<{ createFlow: { id: string } }>(
      `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id } }`,
      { input: { name, handler, tasks: Array.from({ length: tasks }, (_, i) => ({ name: `task-${i}` })) } },
    );
    return createFlow.id;
  }

  /** Creates `count` runs of a flow. */
  async createFlowRuns(flowId: string, count: number): Promise<{ id: string; slot: TaskRunSlot }[]> {
    const runs = [];
    for (let i = 0; i < count; i++) {
      const { createFlowRun } = await this.request<{
        createFlowRun: { id: string; taskRuns: { nodes: { id: string }[] } };
      }>(`mutation($id: ID!) { createFlowRun(input: { flowId: $id }) { id taskRuns(first: 500) { nodes { id } } } }`, {
        id: flowId,
      });
      runs.push({
        id: createFlowRun.id,
        slot: { taskRunIds: createFlowRun.taskRuns.nodes.map((t) => t.id), version: 1 },
      });
    }
    return runs;
  }
}

export const SET_STATES = `mutation($input: [SetTaskRunStateInput!]!) { setTaskRunStates(input: $input) { id version } }`;

/**
 * The body of a setTaskRunStates call moving every task run of `slot` to SUCCESS with
 * `value(i)`. Values are encoded once per slot and reused, so the load generator spends its
 * CPU on sending, not on JSON.
 */
export function setStatesBody(slot: TaskRunSlot, value: (i: number) => unknown): string {
  const cache =
    encoded.get(slot) ??
    slot.taskRunIds.map((taskRunId, i) => [JSON.stringify(taskRunId), JSON.stringify(value(i))] as const);
  encoded.set(slot, cache);
  const input = cache.map(
    ([taskRunId, json]) =>
      `{"taskRunId":${taskRunId},"version":${slot.version},"state":{"type":"SUCCESS","result":{"value":${json}}}}`,
  );
  return `{"query":${JSON.stringify(SET_STATES)},"variables":{"input":[${input.join(",")}]}}`;
}
const encoded = new WeakMap<TaskRunSlot, (readonly [string, string])[]>();

/** A value whose JSON text is about `bytes` long: rows of text, as a task might return. */
export function valueOfSize(bytes: number, seed = 0): { rows: { n: number; text: string }[] } {
  const rowText = "lorem ipsum dolor sit amet ".repeat(37).slice(0, 1000);
  const perRow = JSON.stringify({ n: 0, text: rowText }).length + 1;
  const count = Math.max(1, Math.round(bytes / perRow));
  if (count === 1) return { rows: [{ n: seed, text: rowText.slice(0, Math.max(0, bytes - 30)) }] };
  return { rows: Array.from({ length: count }, (_, n) => ({ n: n + seed, text: rowText })) };
}
