import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HandledError } from "../../src/errors.js";
import { type Codec, decode, encode, type Keyring } from "../../src/results/codecs.js";
import type { ResultHandler } from "../../src/results/result-handler.js";

/** What a handler's test file gives the shared suite. */
export interface HandlerUnderTest {
  handler: ResultHandler;
  /** Reads the bytes a handle points at straight from the backend (disk, raw SDK), not via the handler. */
  readRaw(handle: string): Promise<Buffer>;
  /** Handles of this handler's type that point outside its reach. */
  outOfBounds: string[];
  /** A handle of this handler's form whose data does not exist (absent for JSON). */
  missing?: string;
  cleanup?(): Promise<void>;
}

/** The code of the HandledError a call fails with (it must fail). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HandledError) return error.code;
    throw error;
  }
  throw new Error("expected the call to fail");
}

const values: [string, unknown][] = [
  ["an object", { id: 7, tags: ["a", "b"], nested: { ok: true } }],
  ["an array", [1, "two", null, 3.5]],
  ["a string with unicode", "héllo — 世界 🌍"],
  ["a number", 42],
  ["false", false],
  ["null", null],
  ["a megabyte of text", "x".repeat(1024 * 1024)],
];

/** Every combination of codecs a handler spec may name (see codecsProblem). */
const CODEC_COMBINATIONS: Codec[][] = [
  ["gzip"],
  ["zstd"],
  ["aes-256-gcm"],
  ["gzip", "aes-256-gcm"],
  ["zstd", "aes-256-gcm"],
];
const KEYRING: Keyring = { writeKeyId: "contract", keys: new Map([["contract", Buffer.alloc(32, 7)]]) };

/** What a handler can do beyond write and read; decides which checks apply to it. */
export interface HandlerAbilities {
  /** Its data can go missing behind its back (everything but JSON, whose handle is the data). */
  storesData: boolean;
}

/** The behaviour every result handler shares, run against a real backend. */
export function testResultHandler(
  name: string,
  abilities: HandlerAbilities,
  setup: () => Promise<HandlerUnderTest>,
): void {
  describe(`${name} result handler (contract)`, () => {
    let h: HandlerUnderTest;
    beforeAll(async () => {
      h = await setup();
    });
    afterAll(async () => {
      await h.cleanup?.();
    });

    for (const [what, value] of values) {
      it(`writes ${what} and reads it back through its handle`, async () => {
        const json = JSON.stringify(value);

        const handle = await h.handler.write(Buffer.from(json));

        expect(typeof handle).toBe("string");
        expect(JSON.parse(JSON.stringify(handle))).toBe(handle);
        expect((await h.handler.read(handle)).toString("utf8")).toBe(json);
        expect((await h.readRaw(handle)).toString("utf8")).toBe(json);
      });
    }

    it("reads a value no larger than the size it is given, and refuses one that is larger", async () => {
      const json = JSON.stringify({ text: "héllo 世界 ".repeat(100) });
      const size = Buffer.byteLength(json);
      const handle = await h.handler.write(Buffer.from(json));

      expect((await h.handler.read(handle, size)).toString("utf8")).toBe(json);
      expect(await codeOf(h.handler.read(handle, size - 1))).toBe("RESULT_INTEGRITY");
    });

    it("reads the start of a value, in bytes, without the rest", async () => {
      const json = JSON.stringify({ text: "héllo 世界 ".repeat(1000) });
      const bytes = Buffer.from(json);
      const handle = await h.handler.write(bytes);

      expect(await h.handler.readStart(handle, 10)).toEqual(bytes.subarray(0, 10));
      // A cut inside a character is the caller's to mend: the bytes are given as stored.
      expect(await h.handler.readStart(handle, 12)).toEqual(bytes.subarray(0, 12));
      expect(await h.handler.readStart(handle, bytes.length + 100)).toEqual(bytes);
    });

    it("reports the size of what is behind a handle when it verifies it", async () => {
      const json = JSON.stringify(["é", "😀"]);
      const handle = await h.handler.write(Buffer.from(json));
      await expect(h.handler.verifyHandle(handle)).resolves.toEqual({ sizeBytes: Buffer.byteLength(json) });
    });

    it("gives each value its own handle", async () => {
      const first = await h.handler.write(Buffer.from('"first"'));
      const second = await h.handler.write(Buffer.from('"second"'));

      expect(first).not.toBe(second);
      expect((await h.handler.read(first)).toString("utf8")).toBe('"first"');
      expect((await h.handler.read(second)).toString("utf8")).toBe('"second"');
    });

    it.runIf(abilities.storesData)("accepts its own handles and refuses handles outside its reach", async () => {
      const handle = await h.handler.write(Buffer.from("[1]"));
      await expect(h.handler.verifyHandle(handle)).resolves.toEqual({ sizeBytes: 3 });
      expect(h.outOfBounds.length).toBeGreaterThan(2);

      for (const foreign of h.outOfBounds) {
        expect({ foreign, code: await codeOf(h.handler.verifyHandle(foreign)) }).toEqual({
          foreign,
          code: "HANDLE_OUT_OF_BOUNDS",
        });
        expect({ foreign, code: await codeOf(h.handler.read(foreign)) }).toEqual({
          foreign,
          code: "HANDLE_OUT_OF_BOUNDS",
        });
        // With the size recorded, as every read of a stored result is.
        expect({ foreign, code: await codeOf(h.handler.read(foreign, 1000)) }).toEqual({
          foreign,
          code: "HANDLE_OUT_OF_BOUNDS",
        });
      }
    });

    it.runIf(abilities.storesData)("reports data that is gone as RESULT_NOT_FOUND", async () => {
      expect(h.missing).toBeDefined();
      expect(await codeOf(h.handler.read(h.missing!))).toBe("RESULT_NOT_FOUND");
      expect(await codeOf(h.handler.read(h.missing!, 1000))).toBe("RESULT_NOT_FOUND");
      expect(await codeOf(h.handler.verifyHandle(h.missing!))).toBe("RESULT_NOT_FOUND");
      expect(await codeOf(h.handler.readStart(h.missing!, 10))).toBe("RESULT_NOT_FOUND");
    });

    it.runIf(abilities.storesData)("refuses to read the start of a handle outside its reach", async () => {
      for (const foreign of h.outOfBounds) {
        expect({ foreign, code: await codeOf(h.handler.readStart(foreign, 10)) }).toEqual({
          foreign,
          code: "HANDLE_OUT_OF_BOUNDS",
        });
      }
    });

    // Codecs are applied above the handler (see ResultStore.write): what it stores is their bytes,
    // which it must keep exactly, binary as they are.
    describe.runIf(abilities.storesData).each(CODEC_COMBINATIONS)("with codecs %j", (...codecs) => {
      for (const [what, value] of [values[0]!, values[6]!]) {
        it(`stores ${what} as encoded, and it decodes to the value`, async () => {
          const json = Buffer.from(JSON.stringify(value));
          const encoded = await encode(json, codecs, KEYRING);

          const handle = await h.handler.write(encoded.bytes);
          const raw = await h.readRaw(handle);
          const read = await h.handler.read(handle, encoded.bytes.length);

          expect(raw.equals(encoded.bytes)).toBe(true);
          expect(read.equals(encoded.bytes)).toBe(true);
          expect((await decode({ ...encoded, bytes: read }, json.length, KEYRING)).equals(json)).toBe(true);
          await expect(h.handler.verifyHandle(handle)).resolves.toEqual({ sizeBytes: encoded.bytes.length });
          if (codecs.includes("aes-256-gcm")) {
            expect(encoded.keyId).toBe("contract");
            expect(raw.includes(json.subarray(0, 16))).toBe(false);
          }
          if (what === "a megabyte of text") {
            // A megabyte of one letter compresses to almost nothing; encryption alone adds 29 bytes.
            const compressed = codecs.some((codec) => codec !== "aes-256-gcm");
            expect(encoded.codecs).toEqual(codecs);
            if (compressed) expect(encoded.bytes.length).toBeLessThan(json.length / 100);
            else expect(encoded.bytes.length).toBe(json.length + 29);
          }
        });
      }
    });

    it.runIf(abilities.storesData)("writes at a new handle it gave, and at no handle it did not give", async () => {
      if (!h.handler.newHandle) throw new Error("a handler that stores data must give new handles");
      const first = await h.handler.newHandle();
      const second = await h.handler.newHandle();
      expect(first).not.toBe(second);
      // Nothing is there until it is written.
      expect(await codeOf(h.handler.read(first))).toBe("RESULT_NOT_FOUND");

      expect(await h.handler.write(Buffer.from('"at"'), first)).toBe(first);
      expect((await h.handler.read(first)).toString("utf8")).toBe('"at"');
      for (const foreign of h.outOfBounds) {
        expect({ foreign, code: await codeOf(h.handler.write(Buffer.from("1"), foreign)) }).toEqual({
          foreign,
          code: "HANDLE_OUT_OF_BOUNDS",
        });
      }
    });

    it.runIf(abilities.storesData)("deletes what it wrote, and deleting twice is fine", async () => {
      if (!h.handler.delete) throw new Error("a handler that stores data must be able to delete it");
      const handle = await h.handler.write(Buffer.from('{"short":"lived"}'));

      await h.handler.delete(handle);
      await h.handler.delete(handle);

      expect(await codeOf(h.handler.read(handle))).toBe("RESULT_NOT_FOUND");
    });
  });
}
