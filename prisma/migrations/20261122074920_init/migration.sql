-- CreateEnum
CREATE TYPE "HandlerType" AS ENUM ('JSON', 'LOCAL', 'S3', 'GCS');

-- CreateEnum
CREATE TYPE "StateType" AS ENUM ('PENDING', 'SCHEDULED', 'RUNNING', 'SUCCESS', 'FAILED', 'RETRYING', 'CACHED', 'SKIPPED', 'CANCELLED');

-- CreateTable
CREATE TABLE "flow" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "handler_type" "HandlerType",
    "handler_config" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "flow_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task" (
    "id" UUID NOT NULL,
    "flow_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "is_parameter" BOOLEAN NOT NULL DEFAULT false,
    "handler_type" "HandlerType",
    "handler_config" JSONB,
    "position" INTEGER NOT NULL,

    CONSTRAINT "task_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "flow_run" (
    "id" UUID NOT NULL,
    "flow_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "flow_run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task_run" (
    "id" UUID NOT NULL,
    "flow_run_id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT "task_run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "state" (
    "id" UUID NOT NULL,
    "task_run_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "type" "StateType" NOT NULL,
    "message" TEXT,
    "result_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "state_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "result" (
    "id" UUID NOT NULL,
    "handler_type" "HandlerType" NOT NULL,
    "handler_config" JSONB NOT NULL,
    "handle" TEXT NOT NULL,
    "handled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "result_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "cached_input" (
    "id" UUID NOT NULL,
    "state_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "upstream_task_run_id" UUID NOT NULL,
    "result_id" UUID NOT NULL,

    CONSTRAINT "cached_input_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "task_flow_id_name_key" ON "task"("flow_id", "name");

-- CreateIndex
CREATE INDEX "flow_run_flow_id_idx" ON "flow_run"("flow_id");

-- CreateIndex
CREATE UNIQUE INDEX "task_run_flow_run_id_task_id_key" ON "task_run"("flow_run_id", "task_id");

-- CreateIndex
CREATE UNIQUE INDEX "state_task_run_id_version_key" ON "state"("task_run_id", "version");

-- CreateIndex
CREATE UNIQUE INDEX "cached_input_state_id_name_key" ON "cached_input"("state_id", "name");

-- AddForeignKey
ALTER TABLE "task" ADD CONSTRAINT "task_flow_id_fkey" FOREIGN KEY ("flow_id") REFERENCES "flow"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "flow_run" ADD CONSTRAINT "flow_run_flow_id_fkey" FOREIGN KEY ("flow_id") REFERENCES "flow"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_run" ADD CONSTRAINT "task_run_flow_run_id_fkey" FOREIGN KEY ("flow_run_id") REFERENCES "flow_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_run" ADD CONSTRAINT "task_run_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "task"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "state" ADD CONSTRAINT "state_task_run_id_fkey" FOREIGN KEY ("task_run_id") REFERENCES "task_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "state" ADD CONSTRAINT "state_result_id_fkey" FOREIGN KEY ("result_id") REFERENCES "result"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cached_input" ADD CONSTRAINT "cached_input_state_id_fkey" FOREIGN KEY ("state_id") REFERENCES "state"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cached_input" ADD CONSTRAINT "cached_input_upstream_task_run_id_fkey" FOREIGN KEY ("upstream_task_run_id") REFERENCES "task_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cached_input" ADD CONSTRAINT "cached_input_result_id_fkey" FOREIGN KEY ("result_id") REFERENCES "result"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
