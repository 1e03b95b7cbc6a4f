import { createRequire } from "node:module";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { Storage } from "@google-cloud/storage";
import { buildApp } from "fauxqs";
import { freePort } from "../../src/free-port.js";

export { freePort };

/** A running S3 emulator (fauxqs, in this process, on loopback) and a client for it. */
export interface S3Emulator {
  endpoint: string;
  client: S3Client;
  /** The environment that points the service at this emulator. */
  env(buckets: string[]): Record<string, string>;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3Emulator(): Promise<S3Emulator> {
  const app = buildApp({ logger: false });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  if (!address || typeof address !== "object") throw new Error("fauxqs did not listen");
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  return {
    endpoint,
    client,
    env: (buckets) => ({
      HANDLED_S3_ENDPOINT: endpoint,
      HANDLED_S3_FORCE_PATH_STYLE: "true",
      HANDLED_S3_BUCKETS: buckets.join(","),
      // Fake credentials in the seed documents' format: the emulator does not check them.
      AWS_CREDENTIALS: JSON.stringify({ ACCESS_KEY: "test", SECRET_ACCESS_KEY: "test" }),
    }),
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      client.destroy();
      await app.close();
    },
  };
}

/** A running GCS emulator (firebase-tools' Storage emulator, in this process) and a client. */
export interface GcsEmulator {
  host: string;
  storage: Storage;
  /** The environment that lets the service use these buckets (it finds the emulator by STORAGE_EMULATOR_HOST). */
  env(buckets: string[]): Record<string, string>;
  stop(): Promise<void>;
}

// firebase-tools is CommonJS and its emulator classes are internals (hence its exact pin).
const require = createRequire(import.meta.url);

/**
 * Starts the GCS emulator and sets STORAGE_EMULATOR_HOST for this test process, which is how
 * the GCS SDK (the service's too) finds an emulator. Its security-rules engine needs Java and a
 * download, so it is replaced by one that allows everything; buckets appear on first write.
 */
export async function startGcsEmulator(projectId = "handled-test"): Promise<GcsEmulator> {
  const { StorageEmulator } = require("firebase-tools/lib/emulator/storage") as {
    StorageEmulator: new (args: Record<string, unknown>) => Record<string, unknown> & { stop(): Promise<void> };
  };
  const { EmulatorRegistry } = require("firebase-tools/lib/emulator/registry") as {
    EmulatorRegistry: { start(emulator: unknown): Promise<void>; stop(name: string): Promise<void> };
  };
  const port = await freePort();
  const emulator = new StorageEmulator({ projectId, host: "127.0.0.1", port, auto_download: false });
  const idle = { start: async () => undefined, stop: async () => undefined };
  emulator._rulesRuntime = idle;
  emulator._rulesManager = { ...idle, getRuleset: () => undefined };
  await EmulatorRegistry.start(emulator);
  const host = `http://127.0.0.1:${port}`;
  process.env.STORAGE_EMULATOR_HOST = host;
  return {
    host,
    storage: new Storage({ projectId }),
    env: (buckets) => ({ HANDLED_GCS_BUCKETS: buckets.join(","), HANDLED_GCS_PROJECT_ID: projectId }),
    async stop() {
      await EmulatorRegistry.stop("storage");
    },
  };
}
