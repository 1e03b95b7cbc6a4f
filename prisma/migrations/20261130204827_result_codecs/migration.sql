-- AlterTable
ALTER TABLE "result" ADD COLUMN     "codecs" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "key_id" TEXT,
ADD COLUMN     "stored_bytes" BIGINT;
