// npm run gc -- [--dry-run] [--grace <duration>]
// Sweeps the storage intents of the database of DATABASE_URL (the service's), with the reach the
// service's configuration (the same environment) gives it: deletes the objects of deletions not
// finished, and of writes older than the grace period that no result points at.
import { parseArgs } from "node:util";
import { duration } from "../config/env.js";
import { createLogger } from "../logger.js";
import { createHandlerRegistry } from "../results/handler-registry.js";
import { countDeleted, LifecycleService, type SweepReport } from "../services/lifecycle.js";
import { ReachService } from "../services/reach.js";
import { runAsProgram, UsageError, withDatabase } from "./common.js";

const USAGE = `Usage:
  npm run gc -- [--dry-run] [--grace <duration>]   (duration: 90s, 30m, 1h...; default HANDLED_GC_GRACE, 1h)`;

const sizeOf = (bytes: number) => (bytes < 1e6 ? `${bytes} bytes` : `${(bytes / 1e6).toFixed(1)} MB`);

/** Runs one sweep (or, with --dry-run, says what it would do); its summary goes to `print`. */
export async function runGc(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<void> {
  let values: { "dry-run"?: boolean; grace?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { "dry-run": { type: "boolean" }, grace: { type: "string" } },
    }));
  } catch {
    throw new UsageError(USAGE);
  }
  await withDatabase(env, "storage intents", async (database, config) => {
    let graceMs = config.lifecycle.gcGraceMs;
    if (values.grace !== undefined) {
      const parsed = duration("0").safeParse(values.grace);
      if (!parsed.success) throw new UsageError(USAGE);
      graceMs = parsed.data;
    }
    const olderThanSeconds = graceMs / 1000;
    if (values["dry-run"]) {
      const pending = await database.queries.lifecycle.pendingIntents(olderThanSeconds);
      const report: SweepReport = { deleted: {}, kept: 0, failed: 0 };
      for (const intent of pending) {
        if (intent.referenced) {
          report.kept++;
          continue;
        }
        countDeleted(report, intent);
      }
      summarise(report, "would delete", print);
      print(`${report.kept} would be kept (a result points at them). Nothing was deleted (--dry-run).`);
      return;
    }
    const registry = createHandlerRegistry({ settings: config.handlers });
    const lifecycle = new LifecycleService({
      queries: database.queries.lifecycle,
      registry,
      reach: new ReachService({ projects: database.queries.projects, registry, cacheMs: 60_000 }),
      // Each deletion as a log line (handler, location, project) on standard error.
      logger: createLogger({ level: config.operations.logLevel, destination: process.stderr }),
    });
    const report = await lifecycle.sweep({ olderThanSeconds });
    summarise(report, "deleted", print);
    print(
      `${report.kept} kept (a result points at them, or outside the server's reach); ${report.failed} failed (tried again next time).`,
    );
  });
}

function summarise(report: SweepReport, verb: string, print: (line: string) => void): void {
  const entries = Object.entries(report.deleted);
  if (entries.length === 0) print(`Nothing to delete: no object is left behind.`);
  for (const [handler, { objects, bytes }] of entries)
    print(`${handler}: ${verb} ${objects} objects, ${sizeOf(bytes)}`);
}

runAsProgram(import.meta.url, "gc", runGc);
