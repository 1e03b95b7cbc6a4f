import { afterAll, beforeAll, expect, it } from "vitest";
import { createHandler } from "../../src/results/handler-registry.js";
import { gcsHandler } from "../../src/results/handlers/gcs.js";
import { type GcsEmulator, startGcsEmulator } from "../support/emulators.js";
import { testResultHandler } from "./contract.js";

let gcs: GcsEmulator;
beforeAll(async () => {
  gcs = await startGcsEmulator();
  await gcs.storage.bucket("other").file("team/x.json").save("1", { resumable: false });
});
afterAll(() => gcs.stop());

testResultHandler("GCS", { storesData: true }, async () => ({
  handler: createHandler(
    gcsHandler,
    { type: "GCS", bucket: "results", prefix: "team" },
    { buckets: ["results"], storage: gcs.storage },
  ),
  readRaw: async (handle) => {
    const [contents] = await gcs.storage.bucket("results").file(handle.replace("gs://results/", "")).download();
    return contents;
  },
  outOfBounds: ["gs://other/team/x.json", "gs://results/elsewhere/x.json", "gs://results/team/../x.json"],
  missing: "gs://results/team/never-written.json",
}));

it("stores values as JSON objects under the prefix", async () => {
  const handler = createHandler(
    gcsHandler,
    { type: "GCS", bucket: "results", prefix: "a/b" },
    { buckets: ["results"], storage: gcs.storage },
  );

  const handle = await handler.write(Buffer.from('{"ok":true}'));

  expect(handle).toMatch(/^gs:\/\/results\/a\/b\/[0-9a-f-]{36}\.json$/);
  const [metadata] = await gcs.storage.bucket("results").file(handle.replace("gs://results/", "")).getMetadata();
  expect(metadata.contentType).toBe("application/json");
  expect(Number(metadata.size)).toBe(11);
});
