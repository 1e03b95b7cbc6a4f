-- CreateTable
CREATE TABLE "storage_intent" (
    "id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "handler_type" "HandlerType" NOT NULL,
    "handler_config" JSONB NOT NULL,
    "handle" TEXT NOT NULL,
    "size_bytes" BIGINT,
    "project_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "storage_intent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "storage_intent_created_at_idx" ON "storage_intent"("created_at");

-- CreateIndex
CREATE INDEX "cached_input_result_id_idx" ON "cached_input"("result_id");

-- CreateIndex
CREATE INDEX "result_handle_idx" ON "result" USING HASH ("handle");

-- CreateIndex
CREATE INDEX "state_result_id_idx" ON "state"("result_id");
