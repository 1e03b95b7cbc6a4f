import { randomFillSync } from "node:crypto";
import { v7 } from "uuid";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether an id can name a row at all (ids are UUIDs); others are simply not found. */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

// Random bytes for ids, drawn for 256 ids at a time: asked for by each id, as `v7()` does
// by itself (16 bytes from crypto.getRandomValues), they took 7 % of the server's time under
// batches of 50 values, which make over 100 ids each.
const IDS_PER_DRAW = 256;
const randomBytes = new Uint8Array(16 * IDS_PER_DRAW);
let drawn = IDS_PER_DRAW;
// The millisecond of the last id, and its counter (RFC 9562's method 1, as `v7()` keeps it):
// ids made within one millisecond still sort in the order they were made.
let lastMs = Number.NEGATIVE_INFINITY;
let counter = 0;

/**
 * A new row id: a UUID whose first 48 bits are the time in milliseconds (version 7, RFC 9562),
 * then a counter started at random each millisecond, then random bits. Ids made one after
 * another sort one after another, so each insert goes to the right-hand end of the B-tree
 * indexes they key (primary keys, `state.result_id`), to pages PostgreSQL has just used; a
 * random (version 4) id goes to any page of the index, and once the indexes outgrow
 * PostgreSQL's cache, to pages it must fetch, and later write again.
 */
export function newRowId(): string {
  if (drawn === IDS_PER_DRAW) {
    randomFillSync(randomBytes);
    drawn = 0;
  }
  const random = randomBytes.subarray(16 * drawn, 16 * ++drawn);
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    // 31 random bits, as `v7()` starts its counter (32 bits wide): room for 2^31 more ids or more.
    counter = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    counter = (counter + 1) | 0;
    if (counter === 0) lastMs++; // the counter ran out: borrow the next millisecond
  }
  return v7({ random, msecs: lastMs, seq: counter });
}
