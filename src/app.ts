import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import type { Config } from "./config/config.js";
import { readSigningSecret } from "./config/transfers.js";
import { ChangeListener } from "./db/changes.js";
import { type Database, openDatabase } from "./db/database.js";
import { describeDatabaseError } from "./db/errors.js";
import { DEFAULT_PROJECT } from "./db/projects.js";
import { ErrorCode, StartupError } from "./errors.js";
import { createApolloServer, createSchema } from "./graphql/apollo.js";
import type { Services } from "./graphql/context.js";
import { createHttpServer, createMetricsServer } from "./http/server.js";
import { type Logger, silentLogger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { projectFile } from "./project-files.js";
import { createHandlerRegistry } from "./results/handler-registry.js";
import { ResultStore } from "./results/result-store.js";
import { ApiKeyService } from "./services/api-keys.js";
import { FlowService } from "./services/flows.js";
import { LifecycleService } from "./services/lifecycle.js";
import { LiveUpdates } from "./services/live.js";
import { ReachService } from "./services/reach.js";
import { RetentionService } from "./services/retention.js";
import { StateService } from "./services/states.js";
import { TaskRunFactsCache } from "./services/task-run-facts.js";
import { TokenSigner } from "./services/tokens.js";
import { TransferService } from "./services/transfers.js";

/** A running service. */
export interface App {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql. */
  url: string;
  /**
   * GET /metrics: on HANDLED_METRICS_PORT, else on the API's port when auth is off; undefined
   * when keys are required and no metrics port is set (the API's port holds nothing open to all).
   */
  metricsUrl: string | undefined;
  /** The results browser, when it is served (HANDLED_UI, and built). */
  uiUrl: string | undefined;
  database: Database;
  /**
   * Stops: /readyz answers 503 at once (and the service keeps serving for
   * HANDLED_SHUTDOWN_DELAY_MS), the port is closed to new connections, running requests finish
   * (for at most HANDLED_SHUTDOWN_TIMEOUT_MS; then their connections are cut), then the pool and
   * an embedded PostgreSQL stop. Resolves to whether every request finished in time.
   */
  stop(): Promise<{ drained: boolean }>;
}

/** What the services report to: the service's logger and metrics. */
export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

/** Builds the services from a config; they hold no per-request state. */
export function createServices(config: Config, database: Database, observability?: Observability): Services {
  const registry = createHandlerRegistry({ settings: config.handlers, metrics: observability?.metrics });
  const { limits } = config;
  const results = new ResultStore({
    registry,
    maxValueBytes: config.maxValueBytes,
    maxJsonDepth: limits.maxJsonDepth,
    maxHandleLength: limits.maxHandleLength,
    largeReadBytes: config.responses.largeReadBytes,
    largeReadConcurrency: config.responses.largeReadConcurrency,
    inlineMaxBytes: config.handlers.JSON.maxBytes,
    keyring: config.encryption,
    // Counted with the failures of handler calls: a read that returned data that is not what was written.
    onIntegrityFailure: (handler) =>
      observability?.metrics.handlerErrors.inc({ handler, call: "read", code: ErrorCode.RESULT_INTEGRITY }),
    // A value read from its row is no handler call, but its bytes are read as the JSON handler's.
    onInlineRead: (bytes) => observability?.metrics.handlerBytes.inc({ handler: "JSON", call: "read" }, bytes),
  });
  const { queries } = database;
  const reach = new ReachService({ projects: queries.projects, registry, cacheMs: config.auth.cacheMs });
  const logger = observability?.logger ?? silentLogger;
  return {
    queries,
    results,
    reach,
    flows: new FlowService({
      flows: queries.flows,
      runs: queries.runs,
      changes: queries.changes,
      registry,
      results,
      reach,
      limits,
      logger,
    }),
    keys: new ApiKeyService({
      keys: queries.apiKeys,
      projects: queries.projects,
      cacheMs: config.auth.cacheMs,
      maxNameLength: config.limits.maxNameLength,
      logger,
    }),
    states: new StateService({
      queries: queries.states,
      intents: queries.lifecycle,
      results,
      reach,
      facts: new TaskRunFactsCache(config.taskRunCacheSize),
      defaultHandler: config.defaultHandler,
      limits,
      logger,
    }),
    transfers: new TransferService({
      taskRuns: queries.states,
      intents: queries.lifecycle,
      resultRows: queries.results,
      results,
      reach,
      // Without a secret (a test's services), tokens of this process only.
      signer: new TokenSigner(config.transfers.signingSecret ?? randomBytes(32).toString("base64url")),
      defaultHandler: config.defaultHandler,
      options: config.transfers,
      logger,
    }),
    live: new LiveUpdates({
      source: (onChange, onResumed) =>
        new ChangeListener({
          url: database.url,
          logger,
          connectTimeoutMs: config.timeouts.dbConnect,
          onChange,
          onResumed,
        }),
      maxSubscriptions: config.operations.maxSubscriptions,
      logger,
    }),
    lifecycle: new LifecycleService({
      queries: queries.lifecycle,
      registry,
      reach,
      logger,
      metrics: observability?.metrics,
    }),
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
function pruneBatchCommitsEvery(database: Database, config: Config, logger: Logger): Periodic {
  const keepSeconds = Math.max(3600, Math.ceil((2 * config.timeouts.dbStatement) / 1000));
  return every(PRUNE_INTERVAL_MS, () =>
    database.queries.states
      .pruneBatchCommits(keepSeconds)
      .then(() => undefined)
      .catch((error: unknown) => {
        logger.error(
          { cause: describeDatabaseError(error), retryInMinutes: PRUNE_INTERVAL_MS / 60_000 },
          "pruning batch_commit failed",
        );
      }),
  );
}

/** A task that runs on a timer, one run at a time; `stop` waits for the one running. */
interface Periodic {
  stop(): Promise<void>;
}

/** Runs `task` every `intervalMs` (never when 0), skipping a turn while the last is still running. */
function every(intervalMs: number, task: () => Promise<void>): Periodic {
  if (intervalMs === 0) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= task().finally(() => {
      running = undefined;
    });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Starts the retention passes (see RetentionService): every replica tries, one at a time runs
 * (an advisory lock), so a replica that stops is taken over by the next one to try.
 */
function retainEvery(retention: RetentionService, intervalMs: number, logger: Logger): Periodic {
  return every(intervalMs, () =>
    retention
      .pass()
      .then(() => undefined)
      .catch((error: unknown) => {
        logger.error({ cause: describeDatabaseError(error) }, "retention pass failed; the next one takes it up");
      }),
  );
}

/**
 * Starts the sweep of storage intents (see LifecycleService.sweep) in this replica. Replicas may
 * all sweep: each claims its intents with SKIP LOCKED, so none is settled twice.
 */
function sweepEvery(lifecycle: LifecycleService, config: Config, logger: Logger): Periodic {
  const { gcGraceMs, gcIntervalMs } = config.lifecycle;
  return every(gcIntervalMs, () =>
    lifecycle
      .sweep({ olderThanSeconds: gcGraceMs / 1000 })
      .then((report) => {
        if (Object.keys(report.deleted).length > 0 || report.failed > 0) logger.info({ ...report }, "storage swept");
      })
      .catch((error: unknown) => {
        logger.error(
          { cause: describeDatabaseError(error) },
          "sweeping storage intents failed; the next sweep tries again",
        );
      }),
  );
}

/** Listens on host:port; a port in use or not allowed is a start-up failure with what to change. */
async function listen(server: FastifyInstance, host: string, port: number, variable: string): Promise<AddressInfo> {
  try {
    await server.listen({ host, port, listenTextResolver: (address) => `listening on ${address}` });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE")
      throw new StartupError(
        `Port ${port} on ${host} is already in use: stop what holds it, or set ${variable} to a free port.`,
        { cause: error },
      );
    if (code === "EACCES")
      throw new StartupError(
        `Port ${port} on ${host} may not be used by this user: set ${variable} to a port above 1023.`,
        { cause: error },
      );
    if (code === "EADDRNOTAVAIL")
      throw new StartupError(
        `${host} is not an address of this machine: set HOST to one of its addresses (or 0.0.0.0).`,
        { cause: error },
      );
    throw error;
  }
  return server.server.address() as AddressInfo;
}

function urlOf(host: string, { port }: AddressInfo, path: string): string {
  const shown = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${port}${path}`;
}

/** Opens (and migrates) the database, then serves the API on config.host:config.port. */
export async function startApp(config: Config, logger: Logger = silentLogger): Promise<App> {
  if (config.defaultHandler.type === "LOCAL") await mkdir(config.defaultHandler.dir, { recursive: true });
  const { operations } = config;
  let pool: Database["pool"] | undefined;
  let liveUpdates: Services["live"] | undefined;
  const metrics = createMetrics({
    maxOperations: operations.maxMetricOperations,
    pool: () => pool,
    live: () => liveUpdates && { subscriptions: liveUpdates.size, listening: liveUpdates.listening },
  });
  const signing = await readSigningSecret(config.transfers, config.dataDir);
  if (signing.generated) {
    logger.info(
      { file: signing.generated },
      "made a signing secret for upload and download URLs; replicas must share one: set HANDLED_SIGNING_SECRET",
    );
  }
  config = { ...config, transfers: { ...config.transfers, signingSecret: signing.secret } };
  const database = await openDatabase(config, logger, { onStatement: () => metrics.sqlStatements.inc() });
  pool = database.pool;
  let draining = false;
  const servers: FastifyInstance[] = [];
  try {
    const services = createServices(config, database, { logger, metrics });
    liveUpdates = services.live;
    const defaultScope = { projectId: await database.queries.projects.ensure(DEFAULT_PROJECT) };
    // Every replica hears every other's changes: a connection that cannot listen fails start-up.
    await services.live.start().catch((error: unknown) => {
      throw new StartupError(
        `The live-update listener could not connect to PostgreSQL (${describeDatabaseError(error)}); check DATABASE_URL and the server's connection limit.`,
        { cause: error },
      );
    });
    const schema = createSchema();
    const uiDir = operations.ui ? builtUi(logger) : undefined;
    const apollo = createApolloServer({
      schema,
      graphiql: config.graphiql,
      introspection: config.introspection,
      fieldSuggestions: config.fieldSuggestions,
      limits: config.queryLimits,
      logger,
    });
    await apollo.start();
    const http = await createHttpServer({
      apollo,
      schema,
      queryLimits: config.queryLimits,
      fieldSuggestions: config.fieldSuggestions,
      uiDir,
      services,
      auth: config.auth.mode,
      defaultScope,
      ratePerMinute: config.auth.ratePerMinute,
      trustedDocuments: config.auth.trustedDocuments,
      logger,
      metrics,
      maxRequestBytes: config.maxRequestBytes,
      corsOrigins: operations.corsOrigins,
      serveMetrics: operations.metricsPort === undefined && config.auth.mode === "off",
      checkReady: () => database.checkReady(),
      isDraining: () => draining,
      readyTimeoutMs: config.timeouts.health,
      publicUrl: config.transfers.publicUrl,
    });
    servers.push(http);
    const address = await listen(http, config.host, config.port, "PORT");
    let metricsUrl = config.auth.mode === "off" ? urlOf(config.host, address, "/metrics") : undefined;
    if (operations.metricsPort !== undefined) {
      const metricsServer = createMetricsServer(logger, metrics);
      servers.push(metricsServer);
      metricsUrl = urlOf(
        config.host,
        await listen(metricsServer, config.host, operations.metricsPort, "HANDLED_METRICS_PORT"),
        "/metrics",
      );
    }
    const pruning = pruneBatchCommitsEvery(database, config, logger);
    const sweeper = sweepEvery(services.lifecycle, config, logger);
    const retention = retainEvery(
      new RetentionService({
        queries: database.queries.lifecycle,
        lifecycle: services.lifecycle,
        logger,
        options: {
          defaultDays: config.lifecycle.retentionDays,
          batchSize: config.lifecycle.retentionBatchSize,
          pauseMs: config.lifecycle.retentionPauseMs,
        },
      }),
      config.lifecycle.retentionIntervalMs,
      logger,
    );
    return {
      url: urlOf(config.host, address, "/graphql"),
      metricsUrl,
      uiUrl: uiDir ? urlOf(config.host, address, "/") : undefined,
      database,
      async stop() {
        draining = true;
        if (operations.shutdownDelayMs > 0) {
          // Still serving, /readyz at 503: load balancers take the replica out before its port closes.
          logger.info(
            { shutdownDelayMs: operations.shutdownDelayMs },
            "not ready; serving until the shutdown delay has passed",
          );
          await sleep(operations.shutdownDelayMs);
        }
        let drained = true;
        const deadline = setTimeout(() => {
          drained = false;
          logger.warn(
            { shutdownTimeoutMs: operations.shutdownTimeoutMs },
            "requests still running at the shutdown deadline; closing their connections",
          );
          for (const server of servers) server.server.closeAllConnections();
        }, operations.shutdownTimeoutMs);
        try {
          await http.close();
        } finally {
          clearTimeout(deadline);
        }
        await Promise.all(servers.slice(1).map((server) => server.close()));
        // Its subscriptions' streams were cut as the HTTP front closed (not completed: clients
        // reconnect, to another replica); now it stops listening.
        await services.live.stop();
        await apollo.stop();
        await pruning.stop();
        await sweeper.stop();
        await retention.stop();
        // After a clean drain nothing is running; otherwise cut requests may still hold connections.
        await database.close(drained ? {} : { waitMs: 1000 });
        return { drained };
      },
    };
  } catch (error) {
    await Promise.all(servers.map((server) => server.close().catch(() => undefined)));
    await liveUpdates?.stop();
    await database.close();
    throw error;
  }
}

/** The results browser's built folder (npm run build); none, with a warning, when it was not built. */
function builtUi(logger: Logger): string | undefined {
  try {
    return fileURLToPath(new URL(".", projectFile("dist/ui/index.html")));
  } catch {
    logger.warn("the results browser is not built (run npm run build); / serves nothing");
    return undefined;
  }
}
