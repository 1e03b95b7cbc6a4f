import { describe, expect, it } from "vitest";
import type { TaskRunForChange } from "../../src/db/states.js";
import { TaskRunFactsCache } from "../../src/services/task-run-facts.js";

const run = (id: string): TaskRunForChange => ({
  id,
  flowRunId: `run-of-${id}`,
  flowId: "flow",
  taskId: `task-of-${id}`,
  version: 7,
  task: { isParameter: false, handlerType: "JSON", handlerConfig: {} },
  flow: { handlerType: null, handlerConfig: null },
  latestResultId: "a result",
  keyedState: { version: 3, type: "SUCCESS" },
});

describe("the facts kept of task runs", () => {
  it("are found only in the project that loaded them, and never with a version or states", () => {
    const cache = new TaskRunFactsCache(10);
    const a = { projectId: "a" };
    cache.remember(a, [run("x"), run("y")]);
    const found = cache.all(a, ["x", "y"])!;
    expect(found.get("x")).toEqual({
      id: "x",
      flowRunId: "run-of-x",
      flowId: "flow",
      taskId: "task-of-x",
      task: run("x").task,
      flow: run("x").flow,
    });
    expect(cache.all({ projectId: "b" }, ["x"])).toBeUndefined();
    // All or nothing: one unknown task run and the batch is loaded.
    expect(cache.all(a, ["x", "z"])).toBeUndefined();
    cache.forget(a, "y");
    expect(cache.all(a, ["y"])).toBeUndefined();
  });

  it("keep at most their size, the least recently used going first, and none at size 0", () => {
    const cache = new TaskRunFactsCache(2);
    const a = { projectId: "a" };
    cache.remember(a, [run("1"), run("2")]);
    cache.all(a, ["1"]);
    cache.remember(a, [run("3")]);
    expect(cache.all(a, ["2"])).toBeUndefined();
    expect(cache.all(a, ["1", "3"])?.size).toBe(2);
    const none = new TaskRunFactsCache(0);
    none.remember(a, [run("1")]);
    expect(none.all(a, ["1"])).toBeUndefined();
  });
});
