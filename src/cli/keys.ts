// npm run keys -- create --project <name> --scope read|write|admin [--name <label>] [--expires-in-days <n>]
//                 list [--project <name>]
//                 revoke <key id>
// Manages API keys in the database of DATABASE_URL (the service's own). A key is printed once,
// when it is made; only its hash is kept.
import { parseArgs } from "node:util";
import { HandledError } from "../errors.js";
import { silentLogger } from "../logger.js";
import { ApiKeyService, KEY_SCOPES, type KeyScope } from "../services/api-keys.js";
import { runAsProgram, UsageError, withDatabase } from "./common.js";

const USAGE = `Usage:
  npm run keys -- create --project <name> --scope ${KEY_SCOPES.join("|")} [--name <label>] [--expires-in-days <n>]
  npm run keys -- list [--project <name>]
  npm run keys -- revoke <key id>`;

/** Runs one command; its output goes to `print`. Throws UsageError, HandledError or the database's errors. */
export async function runKeys(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      project: { type: "string" },
      scope: { type: "string" },
      name: { type: "string" },
      "expires-in-days": { type: "string" },
    },
  });
  const [command, ...rest] = positionals;
  if (!command || !["create", "list", "revoke"].includes(command)) throw new UsageError(USAGE);
  await withDatabase(env, "keys", async (database, config) => {
    const keys = new ApiKeyService({
      keys: database.queries.apiKeys,
      projects: database.queries.projects,
      cacheMs: 0,
      maxNameLength: config.limits.maxNameLength,
      logger: silentLogger,
    });
    if (command === "create") {
      if (!values.project || !values.scope) throw new UsageError(USAGE);
      const days = values["expires-in-days"] === undefined ? undefined : Number(values["expires-in-days"]);
      if (days !== undefined && !(Number.isInteger(days) && days > 0))
        throw new UsageError("--expires-in-days takes a whole number of days.");
      const { key, info } = await keys.create({
        project: values.project,
        name: values.name ?? "",
        scope: values.scope as KeyScope,
        expiresAt: days === undefined ? null : new Date(Date.now() + days * 86_400_000),
      });
      print(
        `Key ${info.id} (${info.scopes.join(", ")}) of project ${info.project}${info.expiresAt ? `, expires ${info.expiresAt.toISOString()}` : ""}.`,
      );
      print("It is shown this once; keep it secret:");
      print(key);
    } else if (command === "list") {
      for (const key of await keys.list(values.project)) {
        const state = key.revokedAt
          ? `revoked ${key.revokedAt.toISOString()}`
          : key.expiresAt
            ? `expires ${key.expiresAt.toISOString()}`
            : "no expiry";
        const used = key.lastUsedAt ? `last used ${key.lastUsedAt.toISOString()}` : "never used";
        print([key.id, key.project, key.prefix, key.scopes.join(","), key.name || "-", state, used].join("\t"));
      }
    } else {
      const [id] = rest;
      if (!id) throw new UsageError(USAGE);
      if (!(await keys.revoke(id))) throw new HandledError("NOT_FOUND", `No valid key has the id "${id}".`);
      print(`Key ${id} is revoked.`);
    }
  });
}

runAsProgram(import.meta.url, "keys", runKeys);
