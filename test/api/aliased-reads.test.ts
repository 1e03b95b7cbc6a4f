import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { aliasedValues } from "../support/aliases.js";
import { ListFlows, SetTaskRunStates } from "../support/documents.js";
import { test as apiTest } from "../support/fixtures.js";
import { startRun } from "../support/flows.js";

// However a document aliases a large value, one request reads at most its budget, holds memory
// in proportion to it, and other clients are served meanwhile.

const valueBytes = 64 * 1024 * 1024 - 1024;

/**
 * A flow run whose one result is a value of 64 MiB, written by a client and recorded as a
 * pre-handled result (the server learns its size). The service has the default budget: 128 MiB,
 * so two of the 64 aliases fit.
 */
const test = apiTest.extend("flowRunId", { scope: "file" }, async ({ t }) => {
  const run = await startRun(t, { name: "huge", tasks: [{ name: "out" }] });
  // Written as a client would, and recorded as a pre-handled result: the server learns its size.
  const file = join(t.resultsDir, "huge.json");
  await writeFile(file, JSON.stringify("z".repeat(valueBytes - 2)));
  await t.ok(SetTaskRunStates, {
    input: [
      {
        taskRunId: run.taskRuns.out!.id,
        version: 1,
        state: {
          type: "SUCCESS",
          result: { handled: { handler: { type: "LOCAL", dir: t.resultsDir }, handle: file } },
        },
      },
    ],
  });
  return run.flowRunId;
});

describe("a document aliasing a 64 MiB value 64 times", () => {
  test("is answered within the budget, with bounded memory, while other clients are served", async ({
    t,
    flowRunId,
  }) => {
    // How long the other client waited is printed, not asserted: the server and both clients
    // share this process's one thread, and timings belong to the benchmark.
    // The process at its steady state: one read of the value first, so that the baseline holds
    // what any read leaves allocated (the heap grown once), not only what this one holds.
    await fetch(t.app.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: aliasedValues(1), variables: { id: flowRunId } }),
    }).then((response) => response.arrayBuffer());
    global.gc?.();
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);

    // The body is counted as it streams in, not kept: the client's memory is not the server's.
    const big = (async () => {
      const response = await fetch(t.app.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: aliasedValues(64), variables: { id: flowRunId } }),
      });
      let bytes = 0;
      let head = "";
      const reader = response.body!.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        bytes += chunk.value.length;
        if (head.length < 1_000_000) head += Buffer.from(chunk.value).toString("utf8");
      }
      return { status: response.status, bytes, head };
    })();
    // Another client, while the big one is being read and answered.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const start = performance.now();
    const other = await t.ok(ListFlows, {});
    const otherMs = performance.now() - start;
    const answer = await big;
    clearInterval(sampler);

    expect(other.flows.nodes.map((flow) => flow.name)).toEqual(["huge"]);
    expect(answer.status).toBe(200);
    // Two values served, 62 refused before being read.
    expect(answer.bytes).toBeGreaterThan(2 * valueBytes);
    expect(answer.bytes).toBeLessThan(2 * valueBytes + 1_000_000);
    expect(answer.head.match(/"RESPONSE_TOO_LARGE"/g)).toHaveLength(62);
    // The documented bound, about 6 × HANDLED_MAX_RESPONSE_BYTES: the values as read and as
    // parsed, the serialised response and its bytes, the client's side of it (this process is
    // both), and room for the collector's timing, which alone moves the figure from 400 to over
    // 800 MiB on a loaded machine: 7 × here. Unbounded, the 64 values would be 4 GiB read and more
    // parsed.
    expect(peak - baseline).toBeLessThan(7 * 128 * 1024 * 1024);
    console.log(
      `RSS growth ${Math.round((peak - baseline) / 1024 / 1024)} MiB; other client answered in ${Math.round(otherMs)} ms`,
    );
    expect((await fetch(new URL("/healthz", t.app.url))).status).toBe(200);
  });
});
