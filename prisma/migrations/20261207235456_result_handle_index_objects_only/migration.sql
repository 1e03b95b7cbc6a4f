-- DropIndex
DROP INDEX "result_handle_idx";

-- CreateIndex (written by hand: Prisma Migrate cannot express a partial index, and ignores one
-- when it compares the schema with the migrations)
CREATE INDEX "result_handle_idx" ON "result" USING HASH ("handle") WHERE "handler_type" <> 'JSON';
