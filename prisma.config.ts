import { defineConfig } from "prisma/config";

// Used by `prisma generate`. The service applies prisma/migrations itself at start-up
// (src/db/migrate.ts); migrations are authored with `npm run db:migration -- <name>`.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
