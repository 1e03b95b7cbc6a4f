import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type HandledClient } from "@handled/client";
import { projectFile } from "../../src/project-files.js";

/** The built service (npm test builds it first), as operators run it. */
const MAIN = fileURLToPath(projectFile("dist/main.js"));

/** A log line of the service: pino's JSON. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** The service running as its own process: `node dist/main.js`. */
export interface ServiceProcess {
  child: ChildProcess;
  /** The GraphQL endpoint. */
  url: string;
  client: HandledClient;
  ok: HandledClient["request"];
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Its JSON log lines so far. */
  logs(): LogLine[];
  /** Resolves with its exit code (or the signal that ended it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs it if it still runs, and removes its data folder. */
  kill(): Promise<void>;
}

/** Runs the service until it exits (for starts that must fail); resolves with its code and output. */
export async function runServiceToExit(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const service = spawnService(env);
  const timer = setTimeout(() => service.child.kill("SIGKILL"), timeoutMs);
  const { code } = await service.exited;
  clearTimeout(timer);
  await service.kill();
  return { code, output: service.output() };
}

function spawnService(env: Record<string, string>) {
  let output = "";
  const dataDir = mkdtemp(join(tmpdir(), "handled-proc-"));
  const child = spawn(process.execPath, [MAIN], {
    // In production, on loopback, with auth off: these tests are about the process, not about keys.
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: "0",
      NODE_ENV: "production",
      HANDLED_AUTH: "off",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    cwd: fileURLToPath(projectFile(".")),
  });
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      await rm(await dataDir, { recursive: true, force: true });
    },
  };
}

/** Parses the JSON lines of an output; other lines (a runtime's warnings) are skipped. */
export function parseLogs(output: string): LogLine[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
}

/** Starts the service as a process and waits until it serves; `env` is its whole configuration. */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const service = spawnService(env);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${service.output()}`)), 30_000);
    const check = () => {
      const serving = parseLogs(service.output()).find((line) => line.msg.startsWith("Handled is serving"));
      if (serving) {
        clearTimeout(timer);
        service.child.stdout!.off("data", check);
        resolve(serving.url as string);
      }
    };
    service.child.stdout!.on("data", check);
    void service.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the service exited at start:\n${service.output()}`));
    });
  });
  const client = createClient({ url });
  return {
    ...service,
    url,
    client,
    ok: (operation, variables) => client.request(operation, variables),
    logs: () => parseLogs(service.output()),
  };
}
