import { ErrorCode, HandledError } from "../errors.js";

/**
 * Where one caller's handlers of a type may go, within the server's own reach, as places: a
 * directory's real path (`/data/team-a`), or a bucket with an optional prefix (`s3://results`,
 * `gs://results/team-a`). A project given places of its own is held within them; every project is
 * kept out of the places of the others.
 */
export interface Bounds {
  /** The only places it may use; absent when it may use whatever the server allows. */
  within?: readonly string[];
  /** Places it may not use (other projects'), even when the server allows them. */
  outside: readonly string[];
}

/** Whether `location` is `place` or under it, by whole path segments. */
export function isUnder(location: string, place: string): boolean {
  if (location === place) return true;
  return location.startsWith(place.endsWith("/") ? place : `${place}/`);
}

/** Whether two places overlap: one is the other, or under it. */
export function overlap(a: string, b: string): boolean {
  return isUnder(a, b) || isUnder(b, a);
}

/**
 * Throws HANDLE_OUT_OF_BOUNDS, with the same message whichever bound it crosses, when `location`
 * is outside the caller's places or under another project's. `what` names it ('The directory "/x"').
 */
export function checkBounds(location: string, bounds: Bounds | undefined, what: string): void {
  if (!bounds) return;
  const inside = !bounds.within || bounds.within.some((place) => isUnder(location, place));
  if (inside && !bounds.outside.some((place) => isUnder(location, place))) return;
  throw new HandledError(ErrorCode.HANDLE_OUT_OF_BOUNDS, `${what} is outside what this project may read and write.`);
}
