import "./threadpool.js";
import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config/config.js";
import { StartupError } from "./errors.js";
import { createLogger, flushLogs } from "./logger.js";

// Exit codes, for supervisors: 0 after a clean stop; 1 when the service could not start; 2 when
// it stopped with requests still running at the shutdown deadline, or stopping failed.
const logger = createLogger({
  level: "info",
  pretty: process.stdout.isTTY === true,
});

try {
  const config = loadConfig();
  logger.level = config.operations.logLevel;
  const app = await startApp(config, logger);
  const where = app.database.embedded ? `embedded PostgreSQL in ${config.dataDir}` : "DATABASE_URL";
  logger.info(
    {
      url: app.url,
      ...(app.uiUrl ? { ui: app.uiUrl } : {}),
      metrics: app.metricsUrl ?? "not served: API keys are required, so set HANDLED_METRICS_PORT to serve /metrics",
      database: where,
      defaultHandler: config.defaultHandler.type,
    },
    `Handled is serving ${app.url}${app.uiUrl ? `, and the results browser at ${app.uiUrl}` : ""}`,
  );

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info(
      { signal, shutdownTimeoutMs: config.operations.shutdownTimeoutMs },
      "stopping: finishing running requests",
    );
    app.stop().then(
      ({ drained }) => {
        logger.info({ drained }, drained ? "stopped" : "stopped with requests cut off at the deadline");
        flushLogs();
        process.exit(drained ? 0 : 2);
      },
      (error: unknown) => {
        logger.error({ err: { name: (error as Error).name, message: (error as Error).message } }, "stopping failed");
        flushLogs();
        process.exit(2);
      },
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
} catch (error) {
  // One line that says what to fix; the stack only for what nobody foresaw.
  const known = error instanceof ConfigError || error instanceof StartupError;
  logger.fatal(
    known ? {} : { err: error },
    known ? (error as Error).message : `Handled could not start: ${(error as Error).message}`,
  );
  flushLogs();
  process.exit(1);
}
