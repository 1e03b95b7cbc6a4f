import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createHandler } from "../../src/results/handler-registry.js";
import { s3Handler } from "../../src/results/handlers/s3.js";
import { type S3Emulator, startS3Emulator } from "../support/emulators.js";
import { testResultHandler } from "./contract.js";

let s3: S3Emulator;
beforeAll(async () => {
  s3 = await startS3Emulator();
  await s3.createBucket("results");
  await s3.createBucket("other");
  await s3.client.send(new PutObjectCommand({ Bucket: "other", Key: "team/x.json", Body: "1" }));
});
afterAll(() => s3.stop());

testResultHandler("S3", { storesData: true }, async () => {
  const readRaw = async (handle: string) => {
    const key = handle.replace("s3://results/", "");
    const object = await s3.client.send(new GetObjectCommand({ Bucket: "results", Key: key }));
    return Buffer.from(await object.Body!.transformToByteArray());
  };
  return {
    handler: createHandler(
      s3Handler,
      { type: "S3", bucket: "results", prefix: "team" },
      { buckets: ["results"], client: s3.client },
    ),
    readRaw,
    outOfBounds: [
      "s3://other/team/x.json",
      "s3://results/elsewhere/x.json",
      "s3://results/team/../elsewhere/x.json",
      "s3://results/team//x.json",
    ],
    missing: "s3://results/team/never-written.json",
  };
});

it("uploads a value above the multipart threshold in parts, and stores it as JSON", async () => {
  const MiB = 1024 * 1024;
  const handler = createHandler(
    s3Handler,
    { type: "S3", bucket: "results" },
    { buckets: ["results"], client: s3.client, partSize: 5 * MiB, multipartThreshold: 5 * MiB },
  );
  const json = JSON.stringify({ rows: "é".repeat(4 * 1024 * 1024) }); // ~8 MiB of UTF-8: two parts

  const handle = await handler.write(Buffer.from(json));

  const key = handle.replace("s3://results/", "");
  const head = await s3.client.send(new HeadObjectCommand({ Bucket: "results", Key: key }));
  expect(head.ContentLength).toBe(Buffer.byteLength(json));
  expect(head.ContentType).toBe("application/json");
  expect(head.ETag).toMatch(/-2"?$/); // a multipart ETag ends in its number of parts
  expect((await handler.read(handle)).toString("utf8")).toBe(json);
});

it("uploads a value up to the multipart threshold in one request", async () => {
  const handler = createHandler(
    s3Handler,
    { type: "S3", bucket: "results" },
    { buckets: ["results"], client: s3.client, partSize: 5 * 1024 * 1024 },
  );
  const json = JSON.stringify({ rows: "x".repeat(7 * 1024 * 1024) }); // over one part, under 16 MiB

  const handle = await handler.write(Buffer.from(json));

  const head = await s3.client.send(
    new HeadObjectCommand({ Bucket: "results", Key: handle.replace("s3://results/", "") }),
  );
  expect(head.ContentLength).toBe(json.length);
  expect(head.ETag).not.toMatch(/-\d+"?$/);
  expect((await handler.read(handle)).toString("utf8")).toBe(json);
});

it("refuses a handle that is not an s3:// URI", async () => {
  const handler = createHandler(
    s3Handler,
    { type: "S3", bucket: "results" },
    { buckets: ["results"], client: s3.client },
  );
  await expect(handler.verifyHandle("/tmp/x.json")).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
  await expect(handler.read("gs://results/x.json")).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
});
