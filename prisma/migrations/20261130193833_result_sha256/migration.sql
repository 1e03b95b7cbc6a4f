-- AlterTable
ALTER TABLE "result" ADD COLUMN     "sha256" TEXT;
