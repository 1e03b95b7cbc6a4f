import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { example } from "../../examples/sdk.js";
import { startTestApp, type TestApp } from "../support/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.stop());

it("runs the README's SDK example against the real service", async () => {
  expect(await example(t.app.url)).toBe(
    ['extract SUCCESS (13 bytes: {"rows":1200})', "summarise PENDING (no result)"].join("\n"),
  );
});

it("shows the example in the README exactly as it is type-checked and run", async () => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const source = await readFile(new URL("../../examples/sdk.ts", import.meta.url), "utf8");
  const body = source.slice(source.indexOf("import {"));
  expect(readme).toContain(`\`\`\`ts\n${body}\`\`\``);
});
