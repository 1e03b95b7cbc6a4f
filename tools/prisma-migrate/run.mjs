// Runs prisma 6's CLI (WASM schema engine) on a copy of prisma/schema.prisma. prisma 6 wants
// `url` in the datasource block while prisma 7 forbids it, so the copy gets that one line.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// SCHEMA_FILE lets the test suite show that a schema the migrations do not match is caught.
const source = readFileSync(process.env.SCHEMA_FILE ?? join(here, "../../prisma/schema.prisma"), "utf8");
const withUrl = source.replace(
  /datasource db \{([^}]*)\}/,
  (_block, body) => `datasource db {${body}  url = env("DATABASE_URL")\n}`,
);
if (withUrl === source) throw new Error("prisma/schema.prisma has no `datasource db` block");
mkdirSync(join(here, ".work"), { recursive: true });
writeFileSync(join(here, ".work/schema.prisma"), withUrl);

process.env.DATABASE_URL ??= "postgresql://postgres@127.0.0.1:5432/postgres";
const migrations = join(here, "../../prisma/migrations");

function prisma(args, options = {}) {
  const cli = join(here, "node_modules/prisma/build/index.js");
  return spawnSync(process.execPath, [cli, ...args], {
    cwd: here,
    stdio: "inherit",
    encoding: "utf8",
    env: {
      // The JS engine never runs these, but the CLI looks for them (and would download them) first.
      PRISMA_SCHEMA_ENGINE_BINARY: fileURLToPath(import.meta.url),
      PRISMA_QUERY_ENGINE_LIBRARY: fileURLToPath(import.meta.url),
      ...process.env,
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
    },
    ...options,
  });
}

const fromMigrations = ["--from-migrations", migrations, "--to-schema-datamodel", ".work/schema.prisma"];
const [command, ...rest] = process.argv.slice(2);

if (command === "check") {
  // Exit code 2 when applying every migration does not give schema.prisma.
  const result = prisma(["migrate", "diff", ...fromMigrations, "--exit-code"]);
  if (result.status === 2) {
    console.error("prisma/schema.prisma and prisma/migrations disagree: run `npm run db:migration -- <name>`.");
  }
  process.exit(result.status ?? 1);
} else if (command === "new") {
  // What `migrate dev --create-only` does: the SQL from the migrations so far to schema.prisma.
  const name = rest[0];
  if (!name || !/^[a-z0-9_]+$/.test(name)) throw new Error("usage: new <snake_case_name>");
  const diff = prisma(["migrate", "diff", ...fromMigrations, "--script", "--exit-code"], {
    stdio: ["inherit", "pipe", "inherit"],
  });
  if (diff.status === 0) {
    console.log("No difference: no migration to create.");
    process.exit(0);
  }
  if (diff.status !== 2) process.exit(diff.status ?? 1);
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
  const folder = join(migrations, `${stamp}_${name}`);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "migration.sql"), diff.stdout);
  console.log(`Created ${folder}`);
} else {
  process.exit(prisma(process.argv.slice(2)).status ?? 1);
}
