import { type CipherGCM, createCipheriv, createDecipheriv, type DecipherGCM, randomBytes } from "node:crypto";
import { Transform } from "node:stream";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { ErrorCode, HandledError } from "../errors.js";

/**
 * The codecs a handler may apply to a value's bytes on write (undone on read), by the names
 * stored with each result: two compressions and one encryption.
 */
export const CODECS = ["gzip", "zstd", "aes-256-gcm"] as const;
export type Codec = (typeof CODECS)[number];

const COMPRESSIONS: readonly Codec[] = ["gzip", "zstd"];
export const isCompression = (codec: Codec) => COMPRESSIONS.includes(codec);

/**
 * The encryption keys of the server, by id: 32 bytes each, secret (never stored, logged or
 * sent). Results record the id of the key they were written with, so any key kept here stays
 * able to read them after new writes move to another.
 */
export interface Keyring {
  /** The key new writes use (HANDLED_ENCRYPTION_KEY_ID); none: nothing can be written encrypted. */
  readonly writeKeyId: string | undefined;
  readonly keys: ReadonlyMap<string, Buffer>;
}

export const NO_KEYS: Keyring = { writeKeyId: undefined, keys: new Map() };

/** Bytes as stored, with the codecs that were applied to them (in order) and the key used. */
export interface Encoded {
  bytes: Buffer;
  /** Only those that were applied: a compression that did not shrink the value is skipped. */
  codecs: Codec[];
  /** Set when `aes-256-gcm` was applied. */
  keyId: string | null;
}

// zstd came to Node's zlib in 22.15; on an older Node it is refused by name.
const zstdCompress = zlib.zstdCompress ? promisify(zlib.zstdCompress) : undefined;
const zstdDecompress = zlib.zstdDecompress ? promisify(zlib.zstdDecompress) : undefined;
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

/**
 * Why a list of codecs cannot be used, or undefined when it can: each at most once, one
 * compression at most, and compression before encryption (ciphertext does not compress).
 */
export function codecsProblem(codecs: readonly Codec[]): string | undefined {
  if (new Set(codecs).size !== codecs.length) return "names a codec twice";
  if (codecs.filter(isCompression).length > 1) return "may name one compression (gzip or zstd), not both";
  const encryption = codecs.indexOf("aes-256-gcm");
  if (encryption !== -1 && encryption < codecs.length - 1) {
    return "must name aes-256-gcm last: encrypted bytes do not compress";
  }
  if (codecs.includes("zstd") && !zstdCompress) return "names zstd, which this server's Node.js does not have";
  return undefined;
}

/** The key new writes use; RESULT_KEY_UNAVAILABLE when the server has none. */
export function writeKeyOf(keyring: Keyring): { id: string; key: Buffer } {
  const id = keyring.writeKeyId;
  const key = id === undefined ? undefined : keyring.keys.get(id);
  if (id === undefined || key === undefined) {
    throw new HandledError(
      ErrorCode.RESULT_KEY_UNAVAILABLE,
      "This handler encrypts results (aes-256-gcm), but the server has no key to write with: set HANDLED_ENCRYPTION_KEYS.",
    );
  }
  return { id, key };
}

// Encrypted bytes: a format version, the nonce, the ciphertext and GCM's tag. The key id is
// authenticated with them, so bytes cannot be passed off as written with another key.
const FORMAT = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const additionalData = (keyId: string) => Buffer.from(`handled:${keyId}`, "utf8");

/** A new encryption under `key`: its cipher, and the head the ciphertext follows (format, nonce). */
function cipherOf(keyId: string, key: Buffer): { cipher: CipherGCM; head: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(keyId));
  return { cipher, head: Buffer.concat([Buffer.from([FORMAT]), nonce]) };
}

/** The decryption of bytes that start with `head` (format, nonce); RESULT_CORRUPT for another form. */
function decipherOf(keyId: string, key: Buffer, head: Buffer): DecipherGCM {
  if (head.length < 1 + NONCE_BYTES || head[0] !== FORMAT) throw notOurForm();
  const decipher = createDecipheriv("aes-256-gcm", key, head.subarray(1, 1 + NONCE_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(additionalData(keyId));
  return decipher;
}

/** The end of a decryption: its last bytes, once GCM's tag authenticates what came before. */
function finalOf(decipher: DecipherGCM, tag: Buffer): Buffer {
  decipher.setAuthTag(tag);
  try {
    return decipher.final();
  } catch (cause) {
    // GCM's tag did not match: the ciphertext, nonce or tag was altered, or another key wrote it.
    // The store names the result, logs and counts it (see ResultStore.read).
    throw new HandledError(
      ErrorCode.RESULT_INTEGRITY,
      "The stored data of this result is not what was written: its encryption does not authenticate.",
      { cause },
    );
  }
}

const notOurForm = () => corrupt("Its encrypted data is not in the form this server writes.");

function encrypt(bytes: Buffer, keyId: string, key: Buffer): Buffer {
  const { cipher, head } = cipherOf(keyId, key);
  const body = cipher.update(bytes);
  const end = cipher.final();
  return Buffer.concat([head, body, end, cipher.getAuthTag()]);
}

function decrypt(bytes: Buffer, keyId: string, key: Buffer): Buffer {
  if (bytes.length < 1 + NONCE_BYTES + TAG_BYTES) throw notOurForm();
  const decipher = decipherOf(keyId, key, bytes);
  const body = decipher.update(bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES));
  return Buffer.concat([body, finalOf(decipher, bytes.subarray(bytes.length - TAG_BYTES))]);
}

function corrupt(what: string, cause?: unknown): HandledError {
  return new HandledError(ErrorCode.RESULT_CORRUPT, `The stored data of this result cannot be decoded. ${what}`, {
    cause,
  });
}

// Below this size (in and out), (de)compression runs on the event loop: tens of microseconds,
// where a trip to the thread pool costs 0.2 ms (gzip) to 1 ms (zstd, which sets up a context there).
const IN_THREAD_BELOW_BYTES = 64 * 1024;

async function compress(codec: Codec, bytes: Buffer): Promise<Buffer> {
  const small = bytes.length < IN_THREAD_BELOW_BYTES;
  if (codec === "gzip") return small ? zlib.gzipSync(bytes) : gzip(bytes);
  return small ? zlib.zstdCompressSync(bytes) : zstdCompress!(bytes);
}

async function decompress(codec: Codec, bytes: Buffer, maxBytes: number): Promise<Buffer> {
  // Bounded by the size recorded for the value: a small stored result cannot inflate without end.
  const options = { maxOutputLength: Math.max(1, maxBytes) };
  const small = maxBytes < IN_THREAD_BELOW_BYTES;
  try {
    if (codec === "gzip") return small ? zlib.gunzipSync(bytes, options) : await gunzip(bytes, options);
    if (!zstdDecompress) throw new Error("this Node.js has no zstd");
    return small ? zlib.zstdDecompressSync(bytes, options) : await zstdDecompress(bytes, options);
  } catch (cause) {
    throw corrupt(`It does not decompress (${codec}) to at most the ${maxBytes} bytes recorded.`, cause);
  }
}

/**
 * Applies `codecs` in order to a value's bytes. A compression whose output is not smaller than
 * its input is skipped (and not recorded). Throws RESULT_KEY_UNAVAILABLE when encryption is asked
 * for and the server has no key to write with.
 */
export async function encode(bytes: Buffer, codecs: readonly Codec[], keyring: Keyring): Promise<Encoded> {
  const encoded: Encoded = { bytes, codecs: [], keyId: null };
  for (const codec of codecs) {
    if (codec === "aes-256-gcm") {
      const { id, key } = writeKeyOf(keyring);
      encoded.bytes = encrypt(encoded.bytes, id, key);
      encoded.keyId = id;
    } else {
      const smaller = await compress(codec, encoded.bytes);
      if (smaller.length >= encoded.bytes.length) continue;
      encoded.bytes = smaller;
    }
    encoded.codecs.push(codec);
  }
  return encoded;
}

/**
 * Undoes what `encode` did, given what it recorded. `sizeBytes` is the size recorded for the
 * value: decompression stops past it. Throws RESULT_KEY_UNAVAILABLE when the key is no longer
 * the server's, RESULT_INTEGRITY when encrypted bytes do not authenticate, RESULT_CORRUPT when
 * they do not decode.
 */
export async function decode(stored: Encoded, sizeBytes: number, keyring: Keyring): Promise<Buffer> {
  let bytes = stored.bytes;
  for (const codec of [...stored.codecs].reverse()) {
    if (codec === "aes-256-gcm") {
      bytes = decrypt(bytes, stored.keyId!, readKeyOf(stored.keyId, keyring));
    } else if (isCompression(codec)) {
      bytes = await decompress(codec, bytes, sizeBytes);
    } else {
      throw corrupt(`It names a codec this server does not know ("${codec}").`);
    }
  }
  return bytes;
}

/** The key a result was encrypted with; RESULT_KEY_UNAVAILABLE when the server no longer has it. */
function readKeyOf(keyId: string | null, keyring: Keyring): Buffer {
  const key = keyId === null ? undefined : keyring.keys.get(keyId);
  if (key === undefined) {
    throw new HandledError(
      ErrorCode.RESULT_KEY_UNAVAILABLE,
      `This result was encrypted with the key "${keyId}", which this server no longer has (HANDLED_ENCRYPTION_KEYS).`,
    );
  }
  return key;
}

/** A Transform from a function of each chunk and one of the end. */
function transform(each: (chunk: Buffer) => Buffer, end: () => Buffer): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        done(null, each(chunk));
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done) {
      try {
        done(null, end());
      } catch (error) {
        done(error as Error);
      }
    },
  });
}

/**
 * Streams that apply `codecs` in order to bytes as they come, in the form `encode` writes. Every
 * codec is applied (a stream cannot tell beforehand whether compressing pays). Throws
 * RESULT_KEY_UNAVAILABLE when encryption is asked for and the server has no key to write with.
 */
export function encodingStreams(
  codecs: readonly Codec[],
  keyring: Keyring,
): { streams: Transform[]; keyId: string | null } {
  let keyId: string | null = null;
  const streams = codecs.map((codec) => {
    if (codec === "gzip") return zlib.createGzip();
    if (codec === "zstd") return zlib.createZstdCompress();
    const { id, key } = writeKeyOf(keyring);
    keyId = id;
    const started = cipherOf(id, key);
    const { cipher } = started;
    let head: Buffer | undefined = started.head;
    const withHead = (bytes: Buffer) => {
      const out = head ? Buffer.concat([head, bytes]) : bytes;
      head = undefined;
      return out;
    };
    return transform(
      (chunk) => withHead(cipher.update(chunk)),
      () => withHead(Buffer.concat([cipher.final(), cipher.getAuthTag()])),
    );
  });
  return { streams, keyId };
}

/**
 * Streams that undo `codecs` (as recorded) on stored bytes as they come. Decompression fails past
 * `sizeBytes`; decryption holds back GCM's tag and fails at the end when it does not authenticate
 * (RESULT_INTEGRITY), after the bytes before it have gone on: a reader must treat output as good
 * only once the stream has ended without error. Throws RESULT_KEY_UNAVAILABLE at once for a key
 * the server no longer has.
 */
export function decodingStreams(
  codecs: readonly Codec[],
  keyId: string | null,
  sizeBytes: number,
  keyring: Keyring,
): Transform[] {
  return [...codecs].reverse().map((codec) => {
    if (codec === "gzip") return zlib.createGunzip({ maxOutputLength: Math.max(1, sizeBytes) });
    if (codec === "zstd") return zlib.createZstdDecompress({ maxOutputLength: Math.max(1, sizeBytes) });
    if (codec !== "aes-256-gcm") throw corrupt(`It names a codec this server does not know ("${codec}").`);
    const key = readKeyOf(keyId, keyring);
    let pending: Buffer = Buffer.alloc(0);
    let decipher: DecipherGCM | undefined;
    return transform(
      (chunk) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        if (!decipher) {
          if (pending.length < 1 + NONCE_BYTES) return Buffer.alloc(0);
          decipher = decipherOf(keyId!, key, pending);
          pending = pending.subarray(1 + NONCE_BYTES);
        }
        // The last TAG_BYTES may be the tag: kept back until the end.
        const ready = pending.length - TAG_BYTES;
        if (ready <= 0) return Buffer.alloc(0);
        const out = decipher.update(pending.subarray(0, ready));
        pending = pending.subarray(ready);
        return out;
      },
      () => {
        if (!decipher || pending.length !== TAG_BYTES) throw notOurForm();
        return finalOf(decipher, pending);
      },
    );
  });
}
