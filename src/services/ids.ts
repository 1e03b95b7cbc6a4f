import { v7 } from "uuid";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether an id can name a row at all (ids are UUIDs); others are simply not found. */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

/**
 * A new row id: a UUID whose first 48 bits are the time in milliseconds (version 7, RFC 9562),
 * the other 74 random. Ids made one after another sort one after another, so each insert goes
 * to the right-hand end of the B-tree indexes they key (primary keys, `state.result_id`), to
 * pages PostgreSQL has just used; a random (version 4) id goes to any page of the index, and
 * once the indexes outgrow PostgreSQL's cache, to pages it must fetch, and later write again.
 */
export function newRowId(): string {
  return v7();
}
