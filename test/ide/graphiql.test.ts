import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { haveChromium, launchChromium } from "../support/browser.js";
import { CreateFlow } from "../support/documents.js";

// GraphiQL at /graphql in development, working with no network beyond the server; nothing in
// production. The browser check needs Chromium (Debian's `chromium`, or CHROMIUM_PATH): CI
// installs it and fails without it; elsewhere the check is skipped when it is missing.

/** The endpoint as a browser opens it. */
const openInBrowser = (url: string) => fetch(url, { headers: { accept: "text/html" } });

describe("in development", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ NODE_ENV: "development" });
  });
  afterAll(() => t.stop());

  it("serves GraphiQL whole, with no script, style or font from elsewhere", async () => {
    const response = await openInBrowser(t.app.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain("<title>Handled GraphiQL</title>");
    // Any <script src>, <link href> or CSS url() must be inline (data:, blob:) or relative.
    const external = [
      ...html.matchAll(/(?:src|href)\s*=\s*["'](https?:)?\/\/[^"']+["']|url\(\s*["']?https?:\/\/[^)]+\)/g),
    ].map((m) => m[0]);
    expect(external).toEqual([]);
  });

  it.runIf(haveChromium)("loads in headless Chromium, runs a query and shows the result", async () => {
    const { createFlow } = await t.ok(CreateFlow, { input: { name: "seen-in-graphiql", tasks: [{ name: "only" }] } });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const elsewhere: string[] = [];
      const origin = new URL(t.app.url).origin;
      page.on("request", (request) => {
        const url = request.url();
        if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) elsewhere.push(url);
      });
      const failures: string[] = [];
      page.on("pageerror", (error) => failures.push(error.message));

      await page.goto(t.app.url, { waitUntil: "load" });
      const editor = page.locator(".graphiql-query-editor .monaco-editor").first();
      await editor.waitFor({ timeout: 30_000 });
      await editor.click();
      await page.keyboard.press("ControlOrMeta+a");
      await page.keyboard.press("Delete");
      // Monaco closes brackets as they are typed, so type the query without its closing ones.
      await page.keyboard.type(`query SeenInGraphiQL { flow(id: "${createFlow.id}") { name tasks { name`, { delay: 5 });
      await page.keyboard.press("ControlOrMeta+Enter");

      const response = page.locator(".graphiql-response");
      await expect.poll(() => response.innerText(), { timeout: 30_000 }).toContain("seen-in-graphiql");
      expect(await response.innerText()).toContain('"only"');
      // Close the completion popup and prettify the query, for a readable screenshot.
      await page.keyboard.press("Escape");
      await page.getByRole("button", { name: /prettify/i }).click();
      await mkdir("test-results", { recursive: true });
      await page.screenshot({ path: "test-results/graphiql.png" });
      expect(elsewhere).toEqual([]);
      expect(failures).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe("in production", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ NODE_ENV: "production", HANDLED_AUTH: "off" });
  });
  afterAll(() => t.stop());

  it("serves no IDE, and the API still answers", async () => {
    const response = await openInBrowser(t.app.url);
    expect(response.headers.get("content-type") ?? "").not.toMatch(/^text\/html/);
    expect(await response.text()).not.toContain("GraphiQL");
    const { createFlow } = await t.ok(CreateFlow, { input: { name: "still-served", tasks: [] } });
    expect(createFlow.name).toBe("still-served");
  });
});
