-- DropIndex
DROP INDEX "flow_run_flow_id_idx";

-- AlterTable
ALTER TABLE "result" ADD COLUMN     "size_bytes" BIGINT;

-- CreateIndex
CREATE INDEX "flow_run_flow_id_created_at_id_idx" ON "flow_run"("flow_id", "created_at" DESC, "id" DESC);

-- Backfill: a JSON result's handle is its value's JSON text, so its size is known. Results of
-- other handlers recorded before this migration keep a null size.
UPDATE "result" SET "size_bytes" = octet_length("handle") WHERE "handler_type" = 'JSON';
