-- AlterTable
ALTER TABLE "storage_intent" ADD COLUMN     "codecs" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "expires_at" TIMESTAMPTZ(3),
ADD COLUMN     "key_id" TEXT,
ADD COLUMN     "sha256" TEXT,
ADD COLUMN     "task_run_id" UUID,
ADD COLUMN     "uploaded_at" TIMESTAMPTZ(3),
ADD COLUMN     "value_bytes" BIGINT;

-- CreateIndex
-- Partial: only prepared uploads are looked up by handle, and the intents of ordinary writes (50
-- a request, inserted and deleted again) are spared the index.
CREATE INDEX "storage_intent_handle_idx" ON "storage_intent"("handle") WHERE "task_run_id" IS NOT NULL;
