-- AlterTable
ALTER TABLE "state" ADD COLUMN     "idempotency_key" TEXT;

-- CreateTable
CREATE TABLE "batch_commit" (
    "id" UUID NOT NULL,
    "recorded" BOOLEAN NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "batch_commit_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "batch_commit_created_at_idx" ON "batch_commit" USING BRIN ("created_at");
