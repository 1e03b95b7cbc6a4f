// Prisma Migrate through the WASM schema engine of prisma 6 (engine "js" over a pg driver
// adapter), so migrations can be authored and checked where the native engine cannot be
// downloaded. The migration files it writes are standard Prisma Migrate files.
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";

// The schema engine's introspection queries return `name` / `"char"` columns (and arrays of
// them), which the adapter cannot deserialize; report them as text.
const TEXT_OIDS = new Map([
  [18, 25],
  [19, 25],
  [1002, 1009],
  [1003, 1009],
]);

function patchFields(res: pg.QueryResult | undefined): void {
  for (const field of res?.fields ?? []) {
    const mapped = TEXT_OIDS.get(field.dataTypeID);
    if (mapped !== undefined) field.dataTypeID = mapped;
  }
}

// PostgreSQL 18 also lists NOT NULL constraints in pg_constraint (contype 'n'); prisma 6's
// engine does not know that kind and panics. Nullability is read from pg_attribute anyway.
const CHECK_CONSTRAINTS = "contype NOT IN ('p', 'u', 'f')";
function withoutNotNullConstraints(text: string): string {
  return text.replace(CHECK_CONSTRAINTS, "contype NOT IN ('p', 'u', 'f', 'n')");
}

class TextNameClient extends pg.Client {
  // pg's query() has many overloads (promise or callback); forward them and patch the result.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- overloaded signature
  override query(...args: any[]): any {
    if (typeof args[0] === "string") args[0] = withoutNotNullConstraints(args[0]);
    else if (args[0] && typeof args[0].text === "string" && typeof args[0].submit !== "function") args[0] = { ...args[0], text: withoutNotNullConstraints(args[0].text) };
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === "function") {
      args[last] = (err: Error | null, res: pg.QueryResult) => {
        if (!err) patchFields(res);
        callback(err, res);
      };
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
    const result = (super.query as (...a: any[]) => any)(...args);
    if (result && typeof result.then === "function") {
      return result.then((res: pg.QueryResult) => {
        patchFields(res);
        return res;
      });
    }
    return result;
  }
}

/** Closes the shadow pool before dropping the shadow database (it would block the drop). */
class MigratePg extends PrismaPg {
  override async connectToShadowDb() {
    const conn = await this.connect();
    const database = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID().replaceAll("-", "")}`;
    await conn.executeScript(`CREATE DATABASE "${database}"`);
    const shadow = await new PrismaPg({ ...poolConfig(), database }).connect();
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose();
      await conn.executeScript(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await conn.dispose();
    };
    return shadow;
  }
}

// Discrete fields rather than a connection string: with a connection string, pg ignores the
// `database` override and the shadow pool would connect to the main database.
function poolConfig(): pg.PoolConfig {
  const url = new URL(process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres");
  return {
    Client: TextNameClient,
    host: decodeURIComponent(url.hostname),
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || "postgres"),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1) || "postgres"),
  };
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: ".work/schema.prisma",
  migrations: { path: "../../prisma/migrations" },
  adapter: async () => new MigratePg(poolConfig()),
});
