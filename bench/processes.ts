// The processes a benchmark run measures or talks to: the API server, the trivial Apollo
// server that is its framework ceiling, and the S3 emulator. Each runs apart from the load
// generator, so neither's CPU or memory counts in the other's figures.
import { type ChildProcess, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "../src/free-port.js";

/** A child process serving HTTP on loopback. */
export interface Served {
  /** e.g. http://127.0.0.1:4123 */
  origin: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function waitFor(url: string, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    // Any answer below 500 means it serves (the Apollo server refuses a bare GET with 400).
    if (
      await fetch(url).then(
        (r) => r.status < 500,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not answer ${url} within 30 s`);
}

async function serve(
  what: string,
  script: string,
  env: Record<string, string>,
  readyPath: string,
  nodeArgs: string[] = [],
): Promise<Served> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1", NODE_ENV: "production" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(`${origin}${readyPath}`, child, what);
  return {
    origin,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/**
 * The API as it is deployed: `node dist/main.js`, configured by its environment.
 * BENCH_API_NODE_ARGS adds options to its node, e.g. "--cpu-prof --cpu-prof-dir=prof".
 */
export function startApi(env: Record<string, string>): Promise<Served> {
  const nodeArgs = process.env.BENCH_API_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  return serve("the API", here("../src/main.js"), env, "/healthz", nodeArgs);
}

/** Apollo Server on its standalone HTTP server (a trivial field, and one pg SELECT on `databaseUrl`): the framework's ceilings. */
export function startApolloCeiling(databaseUrl: string, resultsDir: string): Promise<Served> {
  return serve(
    "the Apollo ceiling server",
    here("./apollo-ceiling.js"),
    { DATABASE_URL: databaseUrl, RESULTS_DIR: resultsDir },
    "/",
  );
}

/** The S3 emulator (fauxqs) in its own process, so its storage counts in no one's memory. */
export async function startS3Emulator(): Promise<Served> {
  // fauxqs exports only ESM entry points; its CLI is the file beside the main one.
  const cli = fileURLToPath(new URL("./cli.js", import.meta.resolve("fauxqs")));
  const port = await freePort();
  const child = spawn(process.execPath, [cli], {
    env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_HOST: "127.0.0.1", FAUXQS_LOGGER: "false" },
    stdio: "ignore",
  });
  const origin = `http://127.0.0.1:${port}`;
  for (
    let i = 0;
    i < 600 &&
    !(await fetch(origin).then(
      () => true,
      () => false,
    ));
    i++
  ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    origin,
    child,
    stop: async () => {
      child.kill();
    },
  };
}

/** Resident memory of a process, from /proc (Linux). */
export interface Rss {
  /** Resident now, in bytes. */
  current: number;
  /** The most resident since the last resetPeakRss (or the start), in bytes. */
  peak: number;
}

export async function readRss(pid: number): Promise<Rss> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { current: kib("VmRSS"), peak: kib("VmHWM") };
}

/** Sets a process's peak RSS back to its current RSS (Linux: "5" to /proc/PID/clear_refs). */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, "5");
}
