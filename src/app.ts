import { mkdir } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "./config/config.js";
import { openDatabase, type Database } from "./db/database.js";
import { describeDatabaseError } from "./db/errors.js";
import { pruneBatchCommits } from "./db/state-queries.js";
import { createApolloServer } from "./graphql/apollo.js";
import type { Services } from "./graphql/context.js";
import { createRequestListener } from "./graphql/http-server.js";
import { createMetrics } from "./metrics.js";
import { createHandlerRegistry } from "./results/handler-registry.js";
import { ResultStore } from "./results/result-store.js";
import { createGcsStorage, createS3Client } from "./results/storage-clients.js";
import { FlowService } from "./services/flows.js";
import { StateService } from "./services/states.js";

/** A running service. */
export interface App {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql. */
  url: string;
  database: Database;
  /** Stops accepting requests, lets running ones finish, then closes the database. */
  stop(): Promise<void>;
}

/** Builds the services from a config; they hold no per-request state. */
export function createServices(config: Config, database: Database): Services {
  const registry = createHandlerRegistry({
    jsonMaxBytes: config.jsonMaxBytes,
    localDirs: config.localDirs,
    // Clients only where buckets are configured: no SDK is set up for a store the server never uses.
    s3: config.s3.buckets.length
      ? {
          buckets: config.s3.buckets,
          client: createS3Client(config.s3, config.timeouts),
          partSize: config.s3.partSize,
          multipartThreshold: config.s3.multipartThreshold,
        }
      : undefined,
    gcs: config.gcs.buckets.length
      ? { buckets: config.gcs.buckets, storage: createGcsStorage(config.gcs, config.timeouts), requestTimeoutMs: config.timeouts.storeRequest }
      : undefined,
  });
  const { limits } = config;
  const results = new ResultStore({
    registry,
    maxValueBytes: config.maxValueBytes,
    maxJsonDepth: limits.maxJsonDepth,
    maxHandleLength: limits.maxHandleLength,
    largeReadBytes: config.responses.largeReadBytes,
    largeReadConcurrency: config.responses.largeReadConcurrency,
  });
  return {
    prisma: database.prisma,
    pool: database.pool,
    results,
    flows: new FlowService({ prisma: database.prisma, registry, results, limits }),
    states: new StateService({ pool: database.pool, results, defaultHandler: config.defaultHandler, limits }),
    defaultHandler: config.defaultHandler,
    responseLimits: { maxBytes: config.responses.maxBytes, maxValues: config.responses.maxValues },
  };
}

/** How often each replica deletes batch_commit rows no statement can need any more. */
const PRUNE_INTERVAL_MS = 10 * 60_000;

/**
 * Starts the pruning of batch_commit. A row fences a batch whose commit was in doubt for as
 * long as its statement could still be running: kept an hour, or twice the statement timeout
 * if that is longer. Every replica prunes; a delete that finds nothing costs nothing.
 */
function pruneBatchCommitsEvery(database: Database, config: Config): NodeJS.Timeout {
  const keepSeconds = Math.max(3600, Math.ceil((2 * config.timeouts.dbStatement) / 1000));
  const timer = setInterval(() => {
    pruneBatchCommits(database.pool, keepSeconds).catch((error: unknown) => {
      console.error(`pruning batch_commit failed (${describeDatabaseError(error)}); it is tried again in ${PRUNE_INTERVAL_MS / 60_000} minutes`);
    });
  }, PRUNE_INTERVAL_MS);
  timer.unref();
  return timer;
}

/** Opens (and migrates) the database, then serves the API on config.host:config.port. */
export async function startApp(config: Config): Promise<App> {
  if (config.defaultHandler.type === "LOCAL") await mkdir(config.defaultHandler.dir, { recursive: true });
  const metrics = createMetrics();
  const database = await openDatabase(config, { onStatement: () => metrics.sqlStatements.inc() });
  try {
    const services = createServices(config, database);
    const httpServer = createServer();
    const apollo = createApolloServer(httpServer, { graphiql: config.graphiql });
    const listener = createRequestListener({
      apollo,
      services,
      maxRequestBytes: config.maxRequestBytes,
      metrics: metrics.registry,
      checkHealth: async () => {
        await database.pool.query("SELECT 1");
      },
      healthTimeoutMs: config.timeouts.health,
    });
    await apollo.start();
    httpServer.on("request", listener);
    await new Promise<void>((resolve, reject) => {
      httpServer.once("error", reject);
      httpServer.listen(config.port, config.host, resolve);
    });
    const { port } = httpServer.address() as AddressInfo;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const pruning = pruneBatchCommitsEvery(database, config);
    return {
      url: `http://${host}:${port}/graphql`,
      database,
      async stop() {
        clearInterval(pruning);
        await apollo.stop();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
