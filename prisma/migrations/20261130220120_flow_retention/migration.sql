-- AlterTable
ALTER TABLE "flow" ADD COLUMN     "retention_days" INTEGER;
