import "./threadpool.js";
import { ConfigError, loadConfig } from "./config/config.js";
import { startApp } from "./app.js";
import { StartupError } from "./errors.js";

try {
  const config = loadConfig();
  const app = await startApp(config);
  const where = app.database.embedded ? `embedded PostgreSQL in ${config.dataDir}` : "DATABASE_URL";
  console.log(`Handled is serving ${app.url} (database: ${where}; default handler: ${config.defaultHandler.type})`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: finishing running requests, then stopping.`);
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("Stopping failed:", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
} catch (error) {
  console.error(error instanceof ConfigError || error instanceof StartupError ? error.message : error);
  process.exitCode = 1;
}
