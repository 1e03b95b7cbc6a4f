// What the command-line tools share: opening the service's database, and exiting with what went wrong.
import { pathToFileURL } from "node:url";
import { type Config, loadConfig } from "../config/config.js";
import { type Database, openDatabase } from "../db/database.js";
import { HandledError } from "../errors.js";

/** A command used wrongly: its message says how to use it; the tool exits 2. */
export class UsageError extends Error {}

/** Runs `use` on the database of DATABASE_URL (the service's), with the service's configuration. */
export async function withDatabase<T>(
  env: NodeJS.ProcessEnv,
  what: string,
  use: (database: Database, config: Config) => Promise<T>,
): Promise<T> {
  if (!env.DATABASE_URL) throw new UsageError(`Set DATABASE_URL to the service's database: ${what} live there.`);
  const config = loadConfig(env);
  const database = await openDatabase(config);
  try {
    return await use(database, config);
  } finally {
    await database.close();
  }
}

/**
 * Runs a tool when its module is the program (not when the tests import it): its output on
 * standard output, one line for what went wrong on standard error; exit 0, 2 for a usage error, 1 otherwise.
 */
export function runAsProgram(
  moduleUrl: string,
  name: string,
  run: (argv: readonly string[], env: NodeJS.ProcessEnv, print: (line: string) => void) => Promise<void>,
): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  run(process.argv.slice(2), process.env, (line) => console.log(line)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(
        error instanceof UsageError || error instanceof HandledError
          ? error.message
          : `${name}: ${(error as Error)?.message ?? error}`,
      );
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
