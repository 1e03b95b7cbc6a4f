import type { HandlerFieldsFragment } from "@handled/client";

/** A byte count as people read it: 0 B, 812 B, 1.4 KB, 52.0 MB. */
export function bytes(count: number | null | undefined): string {
  if (count === null || count === undefined) return "—";
  if (count < 1000) return `${count} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = count;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** One formatter for every time shown: making one per call costs a list of 100 rows a frame. */
const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium", hour12: false });

/** A time as local date and time to the second; the ISO text is kept for a tooltip. */
export function time(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : TIME.format(date);
}

/** Where a handler puts results: a directory, or a bucket and prefix. */
export function place(handler: Pick<HandlerFieldsFragment, "type" | "dir" | "bucket" | "prefix">): string {
  if (handler.type === "LOCAL") return handler.dir ?? "";
  if (handler.type === "S3" || handler.type === "GCS") {
    const scheme = handler.type === "S3" ? "s3" : "gs";
    return `${scheme}://${handler.bucket ?? ""}/${handler.prefix ?? ""}`;
  }
  return "inline, in the database";
}

/** The start and end of a long text, its middle elided. */
export function elide(text: string, max = 64): string {
  if (text.length <= max) return text;
  const half = Math.floor((max - 1) / 2);
  return `${text.slice(0, half)}…${text.slice(-half)}`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
