import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client.js";
import { startEmbeddedPostgres } from "./embedded-postgres.js";
import { applyMigrations } from "./migrate.js";
/** A node-postgres client class that reports each statement before sending it. */
function countingClient(onStatement) {
    return class CountingClient extends pg.Client {
        // pg's query() has many overloads; this forwards every one of them unchanged, which no
        // single typed signature can state, hence `any`.
        query(...args) {
            onStatement();
            return super.query(...args);
        }
    };
}
/** Creates a Prisma client (driver adapter over a node-postgres pool) for a database URL. */
export function createPrismaClient(url, options = {}) {
    const pool = new pg.Pool({
        connectionString: url,
        max: options.max,
        ...(options.onStatement ? { Client: countingClient(options.onStatement) } : {}),
    });
    return new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
}
/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL under the data folder when
 * none is given, and applies pending migrations before anything else uses it.
 */
export async function openDatabase(config, pool = {}) {
    let url = config.databaseUrl;
    let embedded;
    if (!url) {
        embedded = await startEmbeddedPostgres(config.dataDir);
        url = embedded.url;
    }
    try {
        await applyMigrations(url);
    }
    catch (error) {
        await embedded?.stop();
        throw error;
    }
    const prisma = createPrismaClient(url, pool);
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
//# sourceMappingURL=database.js.map