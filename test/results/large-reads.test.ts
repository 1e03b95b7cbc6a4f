import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_KEYS } from "../../src/results/codecs.js";
import { ANYWHERE, createHandlerRegistry, type HandlerRegistry } from "../../src/results/handler-registry.js";
import { ResponseBudget } from "../../src/results/response-budget.js";
import type { ResultHandler } from "../../src/results/result-handler.js";
import { type ResultRow, ResultStore } from "../../src/results/result-store.js";

// Large values are read (and parsed) a few at a time per process, whatever the number of
// requests asking for them; small ones are not held back.
describe("reads of large values", () => {
  let dir: string;
  let inFlight = 0;
  let mostInFlight = 0;
  let store: ResultStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "handled-large-reads-"));
    const real = createHandlerRegistry({ settings: { JSON: { maxBytes: 1024 }, LOCAL: { allowedDirs: [dir] } } });
    // The real LOCAL handler, with its reads counted while they run.
    const counted = (handler: ResultHandler): ResultHandler => ({
      ...handler,
      async read(handle, maxBytes) {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return await handler.read(handle, maxBytes);
        } finally {
          inFlight -= 1;
        }
      },
    });
    const registry: HandlerRegistry = { ...real, handlerFor: async (spec) => counted(await real.handlerFor(spec)) };
    store = new ResultStore({
      registry,
      maxValueBytes: 1 << 20,
      maxJsonDepth: 100,
      maxHandleLength: 4096,
      largeReadBytes: 1000,
      largeReadConcurrency: 2,
      inlineMaxBytes: 1 << 16,
      keyring: NO_KEYS,
    });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function stored(value: unknown): Promise<ResultRow> {
    const written = await store.write({ type: "LOCAL", dir }, store.encode(value), ANYWHERE);
    return {
      handlerType: "LOCAL",
      handlerConfig: { dir },
      handle: written.handle,
      handled: true,
      sizeBytes: BigInt(written.sizeBytes),
    };
  }

  const budget = () => new ResponseBudget({ maxBytes: 1 << 30, maxValues: 1000 });

  it("runs at most largeReadConcurrency large reads at once", async () => {
    const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => stored("L".repeat(2000 + i))));
    mostInFlight = 0;

    const values = await Promise.all(rows.map((row) => store.read(row, budget(), () => ANYWHERE)));

    expect(values.map((value) => (value as string).length)).toEqual(rows.map((_, i) => 2000 + i));
    expect(mostInFlight).toBe(2);
  });

  it("does not hold back small reads", async () => {
    const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => stored(i)));
    mostInFlight = 0;

    await Promise.all(rows.map((row) => store.read(row, budget(), () => ANYWHERE)));

    expect(mostInFlight).toBe(8);
  });
});
