import { randomUUID } from "node:crypto";
import { close, constants, createReadStream, fstat, open as openFd, read, type Stats, write } from "node:fs";
import { mkdir, open, realpath, rm, stat, unlink } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { z } from "zod";
import { ErrorCode, HandledError } from "../../errors.js";
import { type Bounds, checkBounds } from "../bounds.js";
import { defineHandler } from "../handler-definition.js";
import { type Handle, largerThanRecorded, type ResultHandler } from "../result-handler.js";
import { FileWorkers } from "./file-worker.js";

/** Settings (and options) of LOCAL handlers. */
export interface LocalSettings {
  /**
   * Absolute directories the server may touch. A handler's directory, and every handle after its
   * symlinks are resolved, must be inside one of them.
   */
  allowedDirs: readonly string[];
  /**
   * Worker threads that write and read files of up to SMALL_FILE_BYTES, each turn's files in one
   * batch (HANDLED_LOCAL_FILE_WORKERS); 0: every file through libuv's pool. 1 when absent.
   */
  fileWorkers?: number;
}

/** Options of one local handler. */
interface LocalHandlerOptions extends LocalSettings {
  /** Absolute directory results are written under; created on first write. */
  dir: string;
  /** The caller's places, as real paths; anywhere in allowedDirs when absent. */
  bounds?: Bounds | undefined;
}

// Values are read and written through file descriptors, not FileHandle objects: the same system
// calls, at about three quarters of the CPU for small files (no object, close tracking or
// finaliser per file).
const fileAt = promisify(openFd);
const statsOf = promisify(fstat);
const readInto = promisify(read);
const writeFrom = promisify(write);
const closeFile = promisify(close);

/**
 * Files up to this size are written and read by the file workers (when there are any): above it,
 * the bytes, not the system calls, are what a file costs.
 */
export const SMALL_FILE_BYTES = 256 * 1024;

/** The file workers of each size asked for, shared by every LOCAL handler. */
const fileWorkers = new Map<number, FileWorkers>();

function fileWorkersOf(count: number): FileWorkers | undefined {
  if (count === 0) return undefined;
  const workers = fileWorkers.get(count) ?? new FileWorkers(count);
  fileWorkers.set(count, workers);
  return workers;
}

/** Writes `bytes` to a new file at `path`, never over another ("wx"), and closes it. */
async function writeNewFile(path: string, bytes: Buffer, smallFiles: FileWorkers | undefined): Promise<void> {
  if (smallFiles && bytes.length <= SMALL_FILE_BYTES) return smallFiles.writeNew(path, bytes);
  const fd = await fileAt(path, "wx");
  try {
    for (let written = 0; written < bytes.length; ) {
      written += (await writeFrom(fd, bytes, written, bytes.length - written)).bytesWritten;
    }
  } finally {
    await closeFile(fd);
  }
}

/** Whether `child` is `parent` or inside it (both absolute, normalised). */
function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** realpath of the nearest existing ancestor, with the rest appended: where `path` would be. */
async function realpathOfNearest(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a file stands where a directory of the path would be; it does not exist either.
    if ((code !== "ENOENT" && code !== "ENOTDIR") || dirname(path) === path) throw error;
    return join(await realpathOfNearest(dirname(path)), path.slice(dirname(path).length));
  }
}

/** The name of a file `write` makes: a random UUID. */
const NEW_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/;

// ENOTDIR: a file stands where a directory of the path would be; ENAMETOOLONG: no such file
// can exist. Either way there is nothing at the path.
const MISSING = new Set(["ENOENT", "ENOTDIR", "ENAMETOOLONG"]);

// O_NOFOLLOW: a symlink at the path is not opened (should the file be swapped for one after it
// was located, opening fails). O_NONBLOCK: opening a FIFO or a device must not wait for a
// writer; it is refused once open.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function notAFile(handle: Handle): HandledError {
  return new HandledError(
    ErrorCode.HANDLE_OUT_OF_BOUNDS,
    `The handle "${handle}" names something other than a regular file.`,
  );
}

const isMissing = (cause: unknown) => MISSING.has(String((cause as NodeJS.ErrnoException | undefined)?.code));

function outOfBounds(what: string): HandledError {
  return new HandledError(
    ErrorCode.HANDLE_OUT_OF_BOUNDS,
    `${what} is outside the directories this server may read and write.`,
  );
}

/**
 * Checks that a directory (after resolving symlinks) lies inside one of the allowed ones, and
 * within the caller's bounds, and returns its real path. Throws HANDLE_OUT_OF_BOUNDS when it does not.
 */
async function resolveAllowedDir(
  dir: string,
  allowedDirs: readonly string[],
  bounds: Bounds | undefined,
): Promise<string> {
  if (!isAbsolute(dir)) throw outOfBounds(`The directory "${dir}" is not absolute and`);
  const key = `${dir}\0${allowedDirs.join("\0")}`;
  let resolving = inFlight.get(key);
  if (!resolving) {
    resolving = realAllowedDir(dir, allowedDirs).finally(() => inFlight.delete(key));
    inFlight.set(key, resolving);
  }
  const real = await resolving;
  checkBounds(real, bounds, `The directory "${dir}"`);
  return real;
}

/**
 * Resolutions of a directory running now. Calls made while one runs (the values of one response,
 * read at once) share it, rather than each resolving the same paths. Nothing is kept once it ends:
 * a call sees the directories as they were when a resolution still running began, never older.
 */
const inFlight = new Map<string, Promise<string>>();

async function realAllowedDir(dir: string, allowedDirs: readonly string[]): Promise<string> {
  const real = await realpathOfNearest(resolve(dir));
  for (const allowed of allowedDirs) {
    if (isInside(real, await realpathOfNearest(allowed))) return real;
  }
  throw outOfBounds(`The directory "${dir}"`);
}

/**
 * Like resolveAllowedDir, and the directory, when it exists, must be one (it is created on
 * the first write otherwise). Throws BAD_USER_INPUT for a file or anything else.
 */
async function checkAllowedDir(
  dir: string,
  allowedDirs: readonly string[],
  bounds: Bounds | undefined,
): Promise<string> {
  const real = await resolveAllowedDir(dir, allowedDirs, bounds);
  const stats = await stat(real).catch((error: NodeJS.ErrnoException) => {
    if (isMissing(error)) return undefined;
    throw error;
  });
  if (stats && !stats.isDirectory()) {
    throw new HandledError(ErrorCode.BAD_USER_INPUT, `The LOCAL directory "${dir}" exists and is not a directory.`);
  }
  return real;
}

/**
 * The local handler: writes each value to a new file under `dir` and returns the file's
 * absolute path as its handle. A handle is only read when it resolves, symlinks followed,
 * inside `dir`, and `dir` inside an allowed directory.
 */
function createLocalHandler(options: LocalHandlerOptions): ResultHandler {
  const { dir, allowedDirs, bounds } = options;
  const smallFiles = fileWorkersOf(options.fileWorkers ?? 1);

  /** The real path of an existing handle inside the handler's real dir. */
  async function locate(handle: Handle, resolvedDir?: string): Promise<string> {
    if (!isAbsolute(handle)) {
      throw new HandledError(ErrorCode.HANDLE_OUT_OF_BOUNDS, "A LOCAL handle must be an absolute file path.");
    }
    const realDir = resolvedDir ?? (await resolveAllowedDir(dir, allowedDirs, bounds));
    // Refuse `..` and foreign absolute paths before touching the file system at all.
    if (!isInside(resolve(handle), resolve(dir)) && !isInside(resolve(handle), realDir)) {
      throw outOfBounds(`The handle "${handle}"`);
    }
    const real = await realpath(handle);
    if (real === realDir || !isInside(real, realDir))
      throw outOfBounds(`The handle "${handle}" (resolved to a path that)`);
    // The handler's directory may hold another project's (a directory of its own, below).
    checkBounds(real, bounds, `The handle "${handle}"`);
    return real;
  }

  /**
   * Opens the file behind a handle with `open`, inside the handler's reach: a file right in the
   * handler's real directory (every handle the handler wrote) by its own path, anything else
   * once located.
   */
  async function inReach<T>(handle: Handle, open: (path: string) => Promise<T>): Promise<T> {
    const realDir = await resolveAllowedDir(dir, allowedDirs, bounds);
    if (isAbsolute(handle) && dirname(handle) === realDir && resolve(handle) === handle) {
      // No part of the path but the file's own name can be a symlink, and O_NOFOLLOW refuses
      // that one, so the file is opened without resolving its path first. A symlink (ELOOP) is
      // located as below.
      checkBounds(handle, bounds, `The handle "${handle}"`);
      try {
        return await open(handle);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ELOOP") throw error;
        return open(await locate(handle, realDir));
      }
    }
    return open(await locate(handle, realDir));
  }

  /**
   * Opens the regular file behind a handle, inside the handler's reach. Anything else (a FIFO, a
   * device, a directory) is refused with HANDLE_OUT_OF_BOUNDS. The caller closes it.
   */
  async function openFile(handle: Handle): Promise<{ fd: number; stats: Stats }> {
    const fd = await inReach(handle, (path) => fileAt(path, OPEN_FLAGS));
    try {
      const stats = await statsOf(fd);
      if (!stats.isFile()) throw notAFile(handle);
      return { fd, stats };
    } catch (error) {
      await closeFile(fd);
      throw error;
    }
  }

  /** Reads the regular file behind a handle with `use` (see openFile), then closes it. */
  async function withFile<T>(handle: Handle, use: (fd: number, stats: Stats) => Promise<T>): Promise<T> {
    const { fd, stats } = await openFile(handle);
    try {
      return await use(fd, stats);
    } finally {
      await closeFile(fd);
    }
  }

  /**
   * Where a write goes: `at` when it is one of this handler's new handles (HANDLE_OUT_OF_BOUNDS
   * otherwise), else a new name; in the handler's real directory.
   */
  async function target(at: Handle | undefined): Promise<{ realDir: string; path: string }> {
    const realDir = await resolveAllowedDir(dir, allowedDirs, bounds);
    if (at !== undefined && (dirname(at) !== realDir || !NEW_NAME.test(basename(at)))) {
      throw outOfBounds(`The handle "${at}" is not one this handler gave, and`);
    }
    return { realDir, path: at ?? join(realDir, `${randomUUID()}.json`) };
  }

  /**
   * Runs `make` (which makes the file at `path`, never over another: "wx"), making the directory
   * first if it is missing. A partial file of a failed write goes; a file that was there before
   * ("wx" failed) stays.
   */
  async function create(realDir: string, path: string, make: () => Promise<unknown>): Promise<void> {
    try {
      await make().catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
        // The first write into a new directory.
        await mkdir(realDir, { recursive: true });
        await make();
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") await rm(path, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  return {
    async newHandle() {
      return join(await resolveAllowedDir(dir, allowedDirs, bounds), `${randomUUID()}.json`);
    },

    async write(json, at) {
      const { realDir, path } = await target(at);
      // Written in place, not aside and renamed: no result points at the name until the write
      // has finished, so no reader can meet the file half written.
      await create(realDir, path, () => writeNewFile(path, json, smallFiles));
      return path;
    },

    async writeStream(source, at) {
      const { realDir, path } = await target(at);
      await create(realDir, path, async () => {
        const file = await open(path, "wx");
        // The stream closes the file, whether the copy ends or fails.
        // A larger buffer than the default 16 KiB: pieces that arrive while one is written go
        // to the disk together (writev), in fewer trips through the thread pool.
        await pipeline(source, file.createWriteStream({ highWaterMark: 1024 * 1024 }));
      }).catch((error: unknown) => {
        source.destroy();
        throw error;
      });
    },

    async readStream(handle, range) {
      const { fd, stats } = await openFile(handle);
      // The stream closes the file when it ends or is destroyed.
      const stream = createReadStream("", { fd, ...(range ? { start: range.start, end: range.end } : {}) });
      return { stream, size: stats.size };
    },

    async read(handle, maxBytes) {
      if (smallFiles && maxBytes !== undefined && maxBytes <= SMALL_FILE_BYTES) {
        const read = await inReach(handle, (path) => smallFiles.read(path, OPEN_FLAGS, maxBytes));
        if (read.ok) return read.bytes;
        if (read.why === "not-a-file") throw notAFile(handle);
        throw largerThanRecorded(`"${handle}"`, maxBytes);
      }
      return withFile(handle, async (fd, stats) => {
        if (maxBytes !== undefined && stats.size > maxBytes) throw largerThanRecorded(`"${handle}"`, maxBytes);
        // The size is known: one read of that many bytes, where readFile would stat the file
        // again and read it in 512 KiB pieces, each a trip through the thread pool.
        const buffer = Buffer.allocUnsafe(stats.size);
        let filled = 0;
        while (filled < stats.size) {
          const { bytesRead } = await readInto(fd, buffer, filled, stats.size - filled, filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      });
    },

    async readStart(handle, maxBytes) {
      return withFile(handle, async (fd) => {
        const buffer = Buffer.alloc(maxBytes);
        const { bytesRead } = await readInto(fd, buffer, 0, maxBytes, 0);
        return buffer.subarray(0, bytesRead);
      });
    },

    async verifyHandle(handle) {
      return withFile(handle, async (_fd, stats) => ({ sizeBytes: stats.size }));
    },

    async delete(handle) {
      await unlink(await locate(handle));
    },
  };
}

/** The LOCAL handler type: files under a directory inside the allowed ones. */
export const localHandler = defineHandler({
  type: "LOCAL",
  config: {
    dir: z
      .string({ error: "is required for LOCAL" })
      // Room for a result's file name below it within PATH_MAX (4096 bytes on Linux).
      .max(4000, "may be at most 4000 characters")
      .refine((dir) => !dir.includes("\u0000"), "may not contain the NUL character")
      .refine(isAbsolute, "must be an absolute path"),
  },
  noun: "file",
  describe: ({ dir }) => `the directory "${dir}"`,
  place: ({ dir }) => dir,
  isMissing,
  connect: (settings: LocalSettings) => settings,
  fromPlace: (place) => (isAbsolute(place) ? { type: "LOCAL", dir: place } : undefined),
  locate: async ({ dir }) => realpathOfNearest(resolve(dir)),
  checkReach: async ({ dir }, { allowedDirs }, bounds) => {
    await checkAllowedDir(dir, allowedDirs, bounds);
  },
  // The directory can change under the handler (a symlink swapped), so it checks it on each use.
  create: ({ dir }, { allowedDirs }, bounds) => createLocalHandler({ dir, allowedDirs, bounds }),
});
