import type { Keyring } from "../results/codecs.js";
import type { Env } from "./env.js";

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const KEY_BYTES = 32;

/**
 * The encryption keys of `aes-256-gcm`: HANDLED_ENCRYPTION_KEYS is a comma-separated list of
 * `id:key`, each key 32 bytes in base64 (`openssl rand -base64 32`); HANDLED_ENCRYPTION_KEY_ID
 * names the one new writes use (needed when there are several). Problems name variables and key
 * ids only: a key is never repeated in a message.
 */
export function readEncryption(env: Env, problems: string[]): Keyring {
  const keys = new Map<string, Buffer>();
  const entries = (env.HANDLED_ENCRYPTION_KEYS ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(":");
    const id = colon === -1 ? "" : entry.slice(0, colon).trim();
    const key = colon === -1 ? "" : entry.slice(colon + 1).trim();
    const which = KEY_ID.test(id) ? `the key "${id}"` : `entry ${index + 1}`;
    if (!KEY_ID.test(id)) {
      problems.push(
        `HANDLED_ENCRYPTION_KEYS: ${which} is not id:key, with an id of letters, digits, ".", "_" or "-" (at most 64)`,
      );
      return;
    }
    const bytes = BASE64.test(key)
      ? Buffer.from(key, key.includes("-") || key.includes("_") ? "base64url" : "base64")
      : undefined;
    if (bytes?.length !== KEY_BYTES) {
      problems.push(`HANDLED_ENCRYPTION_KEYS: ${which} is not ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`);
      return;
    }
    if (keys.has(id)) problems.push(`HANDLED_ENCRYPTION_KEYS: the key id "${id}" is given twice`);
    keys.set(id, bytes);
  });
  let writeKeyId = env.HANDLED_ENCRYPTION_KEY_ID?.trim() || undefined;
  if (writeKeyId !== undefined && !keys.has(writeKeyId)) {
    problems.push(`HANDLED_ENCRYPTION_KEY_ID: "${writeKeyId}" is not one of the ids in HANDLED_ENCRYPTION_KEYS`);
  } else if (writeKeyId === undefined && keys.size === 1) {
    writeKeyId = [...keys.keys()][0];
  } else if (writeKeyId === undefined && keys.size > 1) {
    problems.push("HANDLED_ENCRYPTION_KEY_ID: name the key new writes use, one of the ids in HANDLED_ENCRYPTION_KEYS");
  }
  return { writeKeyId, keys };
}
