import { PrismaPg } from "@prisma/adapter-pg";
import type { Config } from "../config/config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded-postgres.js";
import { applyMigrations } from "./migrate.js";

/** A migrated database and the Prisma client over it. */
export interface Database {
  url: string;
  prisma: PrismaClient;
  /** Whether the service runs its own embedded PostgreSQL. */
  embedded: boolean;
  close(): Promise<void>;
}

/** Creates a Prisma client (driver adapter over node-postgres) for a database URL. */
export function createPrismaClient(url: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}

/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL under the data folder when
 * none is given, and applies pending migrations before anything else uses it.
 */
export async function openDatabase(config: Config): Promise<Database> {
  let url = config.databaseUrl;
  let embedded: EmbeddedDatabase | undefined;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir);
    url = embedded.url;
  }
  try {
    await applyMigrations(url);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const prisma = createPrismaClient(url);
  return {
    url,
    prisma,
    embedded: embedded !== undefined,
    async close() {
      await prisma.$disconnect();
      await embedded?.stop();
    },
  };
}
