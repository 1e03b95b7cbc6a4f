// npm run projects -- places <project> [<place>...]
//                     list
// Gives projects places of their own, in the database of DATABASE_URL (the service's), checked
// against the reach the service's configuration (the same environment) gives it.
import { parseArgs } from "node:util";
import { createHandlerRegistry } from "../results/handler-registry.js";
import { ReachService } from "../services/reach.js";
import { runAsProgram, UsageError, withDatabase } from "./common.js";

const USAGE = `Usage:
  npm run projects -- places <project> [<place>...]   (a place: /absolute/dir, s3://bucket[/prefix], gs://bucket[/prefix]; none: no places)
  npm run projects -- list`;

/** Runs one command; its output goes to `print`. Throws UsageError, HandledError or the database's errors. */
export async function runProjects(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<void> {
  const { positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: {} });
  const [command, project, ...places] = positionals;
  if (!(command === "places" && project) && !(command === "list" && !project)) throw new UsageError(USAGE);
  await withDatabase(env, "projects", async (database, config) => {
    const reach = new ReachService({
      projects: database.queries.projects,
      registry: createHandlerRegistry({ settings: config.handlers }),
      cacheMs: 0,
    });
    if (command === "places") {
      await reach.set(project!, places);
      print(
        places.length > 0
          ? `Project ${project} may use only ${places.join(", ")}; no other project may use them.`
          : `Project ${project} may use whatever the server allows, but other projects' places.`,
      );
    } else {
      for (const { project: name, places: theirs } of await reach.list()) print([name, ...theirs].join("\t"));
    }
  });
}

runAsProgram(import.meta.url, "projects", runProjects);
