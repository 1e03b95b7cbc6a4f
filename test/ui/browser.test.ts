import { spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createClient, type HandledClient } from "@handled/client";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runKeys } from "../../src/cli/keys.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { haveChromium, launchChromium } from "../support/browser.js";
import { CreateFlow, CreateFlowRun, SetTaskRunStates } from "../support/documents.js";

// The results browser at `/`, driven in headless Chromium: flows → a run → a task run's result,
// live updates from another process, and its weight and first render, reported.

/** What the page may weigh, scripts and styles gzipped (the budget). */
const MAX_PAGE_BYTES = 150 * 1024;

describe("the results browser", () => {
  let t: TestApp;
  let key: string;
  let client: HandledClient;
  beforeAll(async () => {
    t = await startTestApp({ HANDLED_AUTH: "required", NODE_ENV: "production" });
    const lines: string[] = [];
    await runKeys(
      ["create", "--project", "default", "--scope", "write"],
      { DATABASE_URL: t.config.databaseUrl, HANDLED_DATA_DIR: t.config.dataDir },
      (line) => lines.push(line),
    );
    key = lines.at(-1)!;
    client = createClient({ url: t.app.url, apiKey: key });
  });
  afterAll(() => t?.stop());

  const origin = () => new URL(t.app.url).origin;

  it("is served at / with its scripts and styles from the API itself, compressed, under 150 KB", async () => {
    const page = await fetch(`${origin()}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    expect(assets.every((asset) => !/^(https?:)?\/\//.test(asset))).toBe(true);
    let weight = 0;
    for (const asset of assets) {
      const response = await fetch(new URL(asset, `${origin()}/`), { headers: { "accept-encoding": "gzip" } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-encoding")).toBe("gzip");
      weight += Number(response.headers.get("content-length"));
      await response.arrayBuffer();
    }
    console.log(`results browser: ${assets.length} files, ${(weight / 1024).toFixed(1)} KB gzipped`);
    await report({ pageWeightGzipBytes: weight });
    expect(weight).toBeLessThan(MAX_PAGE_BYTES);
  });

  it("is not served with HANDLED_UI=false", async () => {
    const off = await startTestApp({ HANDLED_UI: "false" });
    try {
      const response = await fetch(`${new URL(off.app.url).origin}/`);
      expect(response.status).toBe(404);
    } finally {
      await off.stop();
    }
  });

  describe("in Chromium", () => {
    let browser: Browser;
    let page: Page;
    const elsewhere: string[] = [];
    const failures: string[] = [];
    /** The run the walk-through opens, with its task runs by name. */
    let run: { flowId: string; flowRunId: string; taskRuns: Record<string, { id: string; version: number }> };

    beforeAll(async () => {
      if (!haveChromium) return;
      run = await seed(client, t);
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
      page.on("request", (request) => {
        const url = request.url();
        if (!url.startsWith(origin()) && !url.startsWith("data:")) elsewhere.push(url);
      });
      page.on("pageerror", (error) => failures.push(error.message));
    });
    afterAll(async () => {
      await browser?.close();
    });

    it.runIf(haveChromium)("asks for an API key, then walks flows → run → task run → result", async () => {
      await page.goto(`${origin()}/`);
      const prompt = page.getByRole("dialog", { name: "API key" });
      await prompt.waitFor();
      await prompt.getByLabel("API key").fill(key);
      await prompt.getByRole("button", { name: "Use this key" }).click();
      await page.getByRole("link", { name: "nightly-etl" }).waitFor();
      // Searching by name.
      await page.keyboard.press("/");
      await page.keyboard.type("other");
      await expect.poll(() => page.locator("a[data-row]").allTextContents()).toEqual(["other-flow"]);
      await page.getByLabel("Search flows by name").fill("NIGHTLY");
      await expect.poll(() => page.locator("a[data-row]").allTextContents()).toEqual(["nightly-etl"]);

      await page.getByRole("link", { name: "nightly-etl" }).click();
      await page.locator(`[data-flow-run="${run.flowRunId}"] a`).click();
      await page.locator(`[data-task-run="${run.taskRuns.extract!.id}"]`).waitFor();
      expect(await page.locator("[data-task-run]").count()).toBe(Object.keys(run.taskRuns).length);

      // A LOCAL result: its handle, hash and a JSON tree of its value; a download link to it.
      await page.getByRole("link", { name: "extract", exact: true }).click();
      const panel = page.locator(`[data-panel="${run.taskRuns.extract!.id}"]`);
      await panel.locator('[data-preview="json"]').waitFor();
      expect(await panel.textContent()).toContain(t.resultsDir);
      expect(await panel.locator('[data-preview="json"]').textContent()).toContain("rows");
      const download = await panel.getByRole("link", { name: /Download the value/ }).getAttribute("href");
      const fetched = await fetch(download!);
      expect(await fetched.json()).toEqual(EXTRACTED);

      // A large value: a bounded preview, marked as cut.
      await page.getByRole("link", { name: "big", exact: true }).click();
      const big = page.locator(`[data-panel="${run.taskRuns.big!.id}"] [data-preview="text"]`);
      await big.waitFor();
      expect((await big.locator("pre").textContent())?.length).toBeLessThanOrEqual(4096);
      expect(await big.textContent()).toContain("Preview of the first");

      // A null value, and no result: told apart.
      await page.getByRole("link", { name: "nothing", exact: true }).click();
      await page.locator(`[data-panel="${run.taskRuns.nothing!.id}"] [data-preview="null"]`).waitFor();
      await page.getByRole("link", { name: "load", exact: true }).click();
      const none = page.locator(`[data-panel="${run.taskRuns.load!.id}"] [data-result="none"]`);
      await none.waitFor();
      expect(await none.textContent()).toContain("No result");

      // Cached inputs name the task each came from, and lead to it.
      await page.getByRole("link", { name: "summary", exact: true }).click();
      const cached = page.locator(`[data-panel="${run.taskRuns.summary!.id}"]`).getByRole("link", { name: "extract" });
      await cached.waitFor();

      // A deleted file: RESULT_NOT_FOUND next to the result, the rest of the panel still there.
      await page.getByRole("link", { name: "deleted", exact: true }).click();
      const gone = page.locator(`[data-panel="${run.taskRuns.deleted!.id}"]`);
      await gone.getByRole("alert").first().waitFor();
      expect(await gone.getByRole("alert").first().textContent()).toContain("RESULT_NOT_FOUND");
      expect(await gone.textContent()).toContain("History");

      // Keyboard: Escape closes the panel; j moves through the rows.
      await page.keyboard.press("Escape");
      await expect.poll(() => page.locator(".panel").count()).toBe(0);
      await page.locator("a[data-row]").first().focus();
      await page.keyboard.press("j");
      expect(await page.evaluate("document.activeElement?.textContent")).toBe("extract");

      // Screenshots for the README: the run page, and a result open beside it.
      await mkdir("test-results", { recursive: true });
      await page.screenshot({ path: "test-results/ui-run.png" });
      await page.getByRole("link", { name: "extract", exact: true }).click();
      await panel.locator('[data-preview="json"]').waitFor();
      await page.screenshot({ path: "test-results/ui-result.png" });
    });

    it.runIf(haveChromium)("shows a state written by another process within 1 s, without reloading", async () => {
      await page.goto(`${origin()}/#/runs/${run.flowRunId}`);
      await page.locator('[data-live="live"]').first().waitFor();
      const row = page.locator(`[data-task-run="${run.taskRuns.pending!.id}"]`);
      expect(await row.locator(".badge").textContent()).toBe("PENDING");
      // Set on the page now: a reload would lose it.
      const marker = await page.evaluate("window.marker = Math.random()");
      const { acknowledgedAt } = await writeFromAnotherProcess(t.app.url, key, run.taskRuns.pending!.id);
      await row.locator(".badge-running").waitFor({ timeout: 1000 });
      const seenAfterMs = Date.now() - acknowledgedAt;
      console.log(`a state written by another process was shown ${seenAfterMs} ms after it was acknowledged`);
      await report({ liveUpdateShownAfterMs: seenAfterMs });
      // The same page, not a reload.
      expect(await page.evaluate("window.marker")).toBe(marker);
    });

    it.runIf(haveChromium)("renders a run of 100 task runs (first render reported)", async () => {
      const wide = await client.request(CreateFlow, {
        input: { name: "wide", tasks: Array.from({ length: 100 }, (_, i) => ({ name: `task-${i}` })) },
      });
      const { createFlowRun } = await client.request(CreateFlowRun, { input: { flowId: wide.createFlow.id } });
      // Each load in a new page (nothing cached but what a returning browser caches: the page's
      // files); the median of five is reported.
      const times: number[] = [];
      for (let load = 0; load < 5; load++) {
        const fresh = await browser.newPage({ viewport: { width: 1440, height: 900 } });
        await fresh.addInitScript(`sessionStorage.setItem("handled.apiKey", ${JSON.stringify(key)})`);
        await fresh.goto(`${origin()}/#/runs/${createFlowRun.id}`);
        // A locator, not waitForFunction: polling a predicate evaluates it as a string, which the
        // page's Content-Security-Policy (no unsafe-eval) refuses.
        await fresh.locator("[data-task-run]").nth(99).waitFor();
        expect(await fresh.locator("[data-task-run]").count()).toBe(100);
        // Marked by the page when the rows are first rendered, in ms since navigation started.
        times.push(
          Math.round(
            await fresh.evaluate<number>('performance.getEntriesByName("handled:task-runs-rendered")[0].startTime'),
          ),
        );
        await fresh.close();
      }
      const median = [...times].sort((a, b) => a - b)[2]!;
      console.log(
        `first render of a 100-task-run page: median ${median} ms after navigation started (${times.join(", ")})`,
      );
      await report({ firstRender100TaskRunsMs: median });
    });

    it.runIf(haveChromium)("loaded nothing from elsewhere and threw nothing", () => {
      expect(elsewhere).toEqual([]);
      expect(failures).toEqual([]);
    });
  });
});

const EXTRACTED = { rows: 3, tables: ["users", "orders"], ok: true };

/** A flow and a run with a result of each kind the panel shows. */
async function seed(client: HandledClient, t: TestApp) {
  await client.request(CreateFlow, { input: { name: "other-flow", tasks: [{ name: "only" }] } });
  const { createFlow } = await client.request(CreateFlow, {
    input: {
      name: "nightly-etl",
      tasks: [
        { name: "day", isParameter: true },
        { name: "extract" },
        { name: "big" },
        { name: "nothing", handler: { type: "JSON" } },
        { name: "load" },
        { name: "summary" },
        { name: "deleted" },
        { name: "pending" },
      ],
    },
  });
  const { createFlowRun } = await client.request(CreateFlowRun, {
    input: { flowId: createFlow.id, parameters: [{ name: "day", value: "2026-12-01" }] },
  });
  const taskRuns = Object.fromEntries(
    createFlowRun.taskRuns.nodes.map((taskRun) => [taskRun.task.name, { id: taskRun.id, version: taskRun.version }]),
  );
  const success = (name: string, value: unknown) => ({
    taskRunId: taskRuns[name]!.id,
    version: 1,
    state: { type: "SUCCESS" as const, result: { value } },
  });
  const { setTaskRunStates } = await client.request(SetTaskRunStates, {
    input: [
      success("extract", EXTRACTED),
      success("big", "x".repeat(200_000)),
      success("nothing", null),
      { taskRunId: taskRuns.load!.id, version: 1, state: { type: "FAILED", message: "the warehouse refused" } },
      success("deleted", { soon: "gone" }),
    ],
  });
  await client.request(SetTaskRunStates, {
    input: [
      {
        taskRunId: taskRuns.summary!.id,
        version: 1,
        state: {
          type: "SUCCESS",
          result: { value: "3 rows" },
          cachedInputs: [{ name: "extracted", upstreamTaskRunId: taskRuns.extract!.id }],
        },
      },
    ],
  });
  const deleted = setTaskRunStates.find((taskRun) => taskRun.id === taskRuns.deleted!.id)!.state.result;
  if (deleted.__typename !== "Result") throw new Error("expected a result");
  await rm(deleted.handle);
  expect(deleted.handle.startsWith(t.resultsDir)).toBe(true);
  return { flowId: createFlow.id, flowRunId: createFlowRun.id, taskRuns };
}

/** Sets the task run RUNNING from a process of its own, as a worker would; resolves once acknowledged. */
function writeFromAnotherProcess(url: string, apiKey: string, taskRunId: string): Promise<{ acknowledgedAt: number }> {
  const script = `
    const [url, key, id] = process.argv.slice(1);
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer " + key },
      body: JSON.stringify({
        query: "mutation ($id: ID!) { setTaskRunStates(input: [{ taskRunId: $id, version: 1, state: { type: RUNNING } }]) { version } }",
        variables: { id },
      }),
    });
    const body = await response.json();
    if (body.errors) { console.error(JSON.stringify(body.errors)); process.exit(1); }
    console.log("written");`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, url, apiKey, taskRunId], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("written")) resolve({ acknowledgedAt: Date.now() });
    });
    child.on("exit", (code) => code !== 0 && reject(new Error(`the writer exited with ${code}`)));
  });
}

/** Figures the browser test reports, gathered in test-results/ui-metrics.json. */
const figures: Record<string, number> = {};
async function report(more: Record<string, number>): Promise<void> {
  Object.assign(figures, more);
  await mkdir("test-results", { recursive: true });
  await writeFile("test-results/ui-metrics.json", `${JSON.stringify(figures, null, 2)}\n`);
}
