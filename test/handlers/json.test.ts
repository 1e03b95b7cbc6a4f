import { expect, it } from "vitest";
import { createHandler } from "../../src/results/handler-registry.js";
import { jsonHandler } from "../../src/results/handlers/json.js";
import { testResultHandler } from "./contract.js";

testResultHandler("JSON", { storesData: false }, async () => ({
  handler: createHandler(jsonHandler, { type: "JSON" }, { maxBytes: 2 * 1024 * 1024 }),
  // The handle is the data: reading it "raw" is the handle itself.
  readRaw: async (handle) => Buffer.from(handle, "utf8"),
  outOfBounds: [],
}));

it("refuses values over its size limit and handles that are not JSON", async () => {
  const handler = createHandler(jsonHandler, { type: "JSON" }, { maxBytes: 10 });
  await expect(handler.write(Buffer.from('"0123456789"'))).rejects.toMatchObject({ code: "VALUE_TOO_LARGE" });
  await expect(handler.verifyHandle("{oops")).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
});
