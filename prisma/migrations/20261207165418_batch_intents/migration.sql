-- CreateTable
CREATE TABLE "batch_intent" (
    "id" UUID NOT NULL,
    "objects" JSONB NOT NULL,
    "project_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "batch_intent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "batch_intent_created_at_idx" ON "batch_intent"("created_at");
