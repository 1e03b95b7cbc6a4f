-- CreateTable
CREATE TABLE "project_place" (
    "project_id" UUID NOT NULL,
    "handler_type" "HandlerType" NOT NULL,
    "place" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "project_place_pkey" PRIMARY KEY ("handler_type","place")
);

-- CreateIndex
CREATE INDEX "project_place_project_id_idx" ON "project_place"("project_id");

-- AddForeignKey
ALTER TABLE "project_place" ADD CONSTRAINT "project_place_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "project"("id") ON DELETE CASCADE ON UPDATE CASCADE;
