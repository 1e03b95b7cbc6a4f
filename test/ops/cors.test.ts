import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { haveChromium, launchChromium } from "../support/browser.js";
import { CreateFlow } from "../support/documents.js";

// A browser UI served from another origin calls the API. Origins listed in HANDLED_CORS_ORIGINS
// may; others are blocked by the browser, because the API sends them no CORS headers.

/** A page that queries the API with fetch, as a UI would, and shows what it got. */
function pageFor(apiUrl: string): string {
  return `<!doctype html><title>ui</title><pre id="out">waiting</pre><script>
    fetch(${JSON.stringify(apiUrl)}, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "from-the-ui", "apollo-require-preflight": "true" },
      body: JSON.stringify({ query: "query UiFlows { flows(first: 5) { nodes { name } } }" }),
    })
      .then((response) => response.json())
      .then((body) => { document.getElementById("out").textContent = "data:" + JSON.stringify(body.data); })
      .catch((error) => { document.getElementById("out").textContent = "blocked:" + error.name; });
  </script>`;
}

/** A static server for the page, on a loopback port of its own: an origin of its own. */
async function servePage(html: () => string): Promise<{ origin: string; server: Server }> {
  const server = createServer((_request, response) =>
    response.writeHead(200, { "content-type": "text/html" }).end(html()),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("CORS", () => {
  let t: TestApp;
  let allowed: { origin: string; server: Server };
  let other: { origin: string; server: Server };
  beforeAll(async () => {
    let apiUrl = "";
    allowed = await servePage(() => pageFor(apiUrl));
    other = await servePage(() => pageFor(apiUrl));
    t = await startTestApp({ HANDLED_CORS_ORIGINS: `${allowed.origin}, https://ui.example.com` });
    apiUrl = t.app.url;
    await t.ok(CreateFlow, { input: { name: "seen-from-the-ui", tasks: [{ name: "a" }] } });
  });
  afterAll(async () => {
    allowed.server.close();
    other.server.close();
    await t.stop();
  });

  const preflight = (origin: string) =>
    fetch(t.app.url, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,authorization,apollo-require-preflight,x-request-id",
      },
    });

  it("answers a preflight from an allowed origin with the methods and headers clients send", async () => {
    const response = await preflight(allowed.origin);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(allowed.origin);
    expect(response.headers.get("access-control-allow-methods")?.split(/,\s*/)).toEqual(["GET", "POST", "PUT"]);
    expect(response.headers.get("access-control-allow-headers")?.split(/,\s*/)).toEqual(
      expect.arrayContaining(["content-type", "authorization", "apollo-require-preflight", "x-request-id"]),
    );
  });

  it("gives another origin no CORS headers, on preflights and on requests", async () => {
    const response = await preflight(other.origin);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const query = await fetch(t.app.url, {
      method: "POST",
      headers: { origin: other.origin, "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(query.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("keeps CSRF prevention: a simple GET query without a preflight header is refused", async () => {
    const response = await fetch(`${t.app.url}?query=${encodeURIComponent("{ __typename }")}`);
    expect(response.status).toBe(400);
    const withHeader = await fetch(`${t.app.url}?query=${encodeURIComponent("{ __typename }")}`, {
      headers: { "apollo-require-preflight": "true" },
    });
    expect(await withHeader.json()).toEqual({ data: { __typename: "Query" } });
  });

  it.runIf(haveChromium)(
    "lets a page from an allowed origin query the API in Chromium, and blocks a page from another",
    async () => {
      const browser = await launchChromium();
      try {
        const shown = async (origin: string) => {
          const page = await browser.newPage();
          await page.goto(origin, { waitUntil: "load" });
          // A string, run in the page: the test's own types have no DOM.
          await page.waitForFunction('document.getElementById("out").textContent !== "waiting"', undefined, {
            timeout: 15_000,
          });
          return page.locator("#out").textContent();
        };
        expect(await shown(allowed.origin)).toBe('data:{"flows":{"nodes":[{"name":"seen-from-the-ui"}]}}');
        expect(await shown(other.origin)).toBe("blocked:TypeError");
      } finally {
        await browser.close();
      }
    },
  );
});
