import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";

// Headless Chromium for the browser tests: Debian's `chromium`, or CHROMIUM_PATH. CI installs it
// and fails without it; elsewhere the browser checks are skipped when it is missing.

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const haveChromium = existsSync(chromiumPath);
if (process.env.CI && !haveChromium) throw new Error(`CI must run the browser check: no Chromium at ${chromiumPath}`);

/** Chromium, headless, making no connection of its own (this machine's network is closed). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
