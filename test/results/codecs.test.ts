import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codecsProblem, decode, encode, type Keyring } from "../../src/results/codecs.js";
import { codeOf } from "../handlers/contract.js";

const keyring: Keyring = {
  writeKeyId: "a",
  keys: new Map([
    ["a", Buffer.alloc(32, 1)],
    ["b", Buffer.alloc(32, 2)],
  ]),
};

describe("codecs", () => {
  const json = Buffer.from(JSON.stringify({ text: "z".repeat(100_000) }));

  it("refuse to inflate past the size recorded for the value (a small result cannot become a huge one)", async () => {
    for (const codec of ["gzip", "zstd"] as const) {
      const encoded = await encode(json, [codec], keyring);
      expect(encoded.bytes.length).toBeLessThan(1000);
      expect((await decode(encoded, json.length, keyring)).equals(json)).toBe(true);
      expect(await codeOf(decode(encoded, json.length - 1, keyring))).toBe("RESULT_CORRUPT");
    }
  });

  it("skip a compression that does not shrink random bytes, and encrypt them all the same", async () => {
    const random = randomBytes(4096);
    expect(await encode(random, ["gzip"], keyring)).toEqual({ bytes: random, codecs: [], keyId: null });
    const sealed = await encode(random, ["zstd", "aes-256-gcm"], keyring);
    expect(sealed).toMatchObject({ codecs: ["aes-256-gcm"], keyId: "a" });
    expect(sealed.bytes.length).toBe(random.length + 29);
  });

  it("authenticate the key id with the ciphertext, and name a missing key", async () => {
    const sealed = await encode(json, ["aes-256-gcm"], keyring);
    // Claimed to be written with another key the server has: it does not authenticate.
    expect(await codeOf(decode({ ...sealed, keyId: "b" }, json.length, keyring))).toBe("RESULT_INTEGRITY");
    expect(await codeOf(decode({ ...sealed, keyId: "gone" }, json.length, keyring))).toBe("RESULT_KEY_UNAVAILABLE");
    const noKeys: Keyring = { writeKeyId: undefined, keys: new Map() };
    expect(await codeOf(encode(json, ["aes-256-gcm"], noKeys))).toBe("RESULT_KEY_UNAVAILABLE");
    // Two writes of one value never share bytes: each has its own nonce.
    expect((await encode(json, ["aes-256-gcm"], keyring)).bytes.equals(sealed.bytes)).toBe(false);
  });

  it("allow one compression at most, each codec once, and encryption last", () => {
    expect(codecsProblem(["zstd", "aes-256-gcm"])).toBeUndefined();
    expect(codecsProblem(["gzip", "gzip"])).toMatch(/twice/);
    expect(codecsProblem(["gzip", "zstd"])).toMatch(/one compression/);
    expect(codecsProblem(["aes-256-gcm", "zstd"])).toMatch(/last/);
  });
});
