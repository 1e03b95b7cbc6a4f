import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test as base } from "vitest";
import { startTestApp, type TestAppOptions } from "./app.js";
import { startGcsEmulator, startS3Emulator } from "./emulators.js";

/**
 * The fixtures of the API tests, each set up once per file when a test (or a `test.beforeAll`)
 * first asks for it, and torn down after the file's last test, the service before the emulators
 * it uses:
 * - `s3`, `gcs`: the S3 and GCS emulators;
 * - `env`: what the file's service is started with besides the defaults; a file sets it with
 *   `test.override("env", { scope: "file" }, ...)`, a function that may use the emulators (to
 *   create buckets, and point the service at them);
 * - `appOptions`: how the service reaches its database (e.g. through a TCP proxy);
 * - `t`: the service itself, on its own database and data folder;
 * - `tempDir(prefix)`: makes a new folder under the system's temporary one, removed after the test.
 */
export const test = base
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern.
  .extend("s3", { scope: "file" }, async ({}, { onCleanup }) => {
    const s3 = await startS3Emulator();
    onCleanup(() => s3.stop());
    return s3;
  })
  // biome-ignore lint/correctness/noEmptyPattern: as above.
  .extend("gcs", { scope: "file" }, async ({}, { onCleanup }) => {
    const gcs = await startGcsEmulator();
    onCleanup(() => gcs.stop());
    return gcs;
  })
  .extend("env", { scope: "file" }, async (): Promise<Record<string, string>> => ({}))
  .extend("appOptions", { scope: "file" }, async (): Promise<TestAppOptions> => ({}))
  .extend("t", { scope: "file" }, async ({ env, appOptions }, { onCleanup }) => {
    const t = await startTestApp(env, appOptions);
    onCleanup(() => t.stop());
    return t;
  })
  // biome-ignore lint/correctness/noEmptyPattern: as above.
  .extend("tempDir", async ({}, { onCleanup }) => {
    const made: string[] = [];
    onCleanup(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))).then(() => undefined));
    return async (prefix: string): Promise<string> => {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    };
  });
