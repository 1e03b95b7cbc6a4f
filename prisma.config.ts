import { defineConfig } from "prisma/config";

// Used by `prisma generate` (which needs no database) and by Prisma's own CLI where its native
// engines are available: `DATABASE_URL=... npx prisma migrate status|deploy`. The service
// applies prisma/migrations itself at start-up (src/db/migrate.ts), recorded as Prisma does;
// migrations are authored with `npm run db:migration -- <name>`.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  // Read directly, not through prisma/config's env(), which fails commands that need no URL.
  ...(process.env.DATABASE_URL ? { datasource: { url: process.env.DATABASE_URL } } : {}),
});
