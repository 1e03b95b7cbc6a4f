// After a developer's `npm ci`: installs the migration tool and writes the generated code. A
// production or consumer install (`npm ci --omit=dev`) has neither Prisma's CLI nor codegen and
// needs neither: it skips both, silently.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

if (!existsSync("node_modules/.bin/graphql-codegen") || !existsSync("node_modules/.bin/prisma")) process.exit(0);

function run(args) {
  const result = spawnSync("npm", args, { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
run(["ci", "--prefix", "tools/prisma-migrate", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]);
run(["run", "generate"]);
