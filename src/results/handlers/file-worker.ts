// Small files, written and read in batches by worker threads. A batch of 50 values is 150 system
// calls; made from libuv's pool, each is a trip to a pool thread and back, and the threads of
// one directory's creations wait on its lock in the kernel anyway. A worker makes the calls of
// every file asked for in one turn of the event loop, one after another, and answers once.
import { Worker } from "node:worker_threads";

/** What a worker is asked to do with one file. */
type FileOp =
  | { kind: "write"; path: string; bytes: Uint8Array }
  | { kind: "read"; path: string; flags: number; maxBytes: number };

/** What came of it: the bytes read, or an error as the file system gave it. */
type FileOutcome =
  | { ok: true; bytes?: Uint8Array }
  | { ok: false; code: string; message: string; syscall?: string; size?: number };

/** A file read by a worker: its bytes, or why it was not read. */
export type SmallRead =
  | { ok: true; bytes: Buffer }
  | { ok: false; why: "not-a-file" }
  | { ok: false; why: "too-large"; size: number };

/**
 * The worker's code. It runs alone in the worker (a script of its own, as CommonJS), so it
 * refers to nothing outside itself. Every file of a batch is done, in order, whatever became of
 * the others; a file opened is closed before the next.
 */
function workerMain(): void {
  const { parentPort } = require("node:worker_threads") as typeof import("node:worker_threads");
  const fs = require("node:fs") as typeof import("node:fs");
  const failed = (error: unknown): FileOutcome => {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, code: e.code ?? "EIO", message: e.message, ...(e.syscall ? { syscall: e.syscall } : {}) };
  };
  const write = (path: string, bytes: Uint8Array): FileOutcome => {
    const fd = fs.openSync(path, "wx");
    try {
      for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    } finally {
      fs.closeSync(fd);
    }
    return { ok: true };
  };
  const read = (path: string, flags: number, maxBytes: number, transfer: ArrayBuffer[]): FileOutcome => {
    const fd = fs.openSync(path, flags);
    try {
      const stats = fs.fstatSync(fd);
      if (!stats.isFile()) return { ok: false, code: "NOT_A_FILE", message: "not a regular file" };
      if (stats.size > maxBytes) return { ok: false, code: "TOO_LARGE", message: "too large", size: stats.size };
      const bytes = new Uint8Array(stats.size);
      let filled = 0;
      while (filled < stats.size) {
        const read = fs.readSync(fd, bytes, filled, stats.size - filled, filled);
        if (read === 0) break;
        filled += read;
      }
      transfer.push(bytes.buffer as ArrayBuffer);
      return { ok: true, bytes: bytes.subarray(0, filled) };
    } finally {
      fs.closeSync(fd);
    }
  };
  parentPort!.on("message", ({ id, ops }: { id: number; ops: FileOp[] }) => {
    const transfer: ArrayBuffer[] = [];
    const outcomes = ops.map((op) => {
      try {
        return op.kind === "write" ? write(op.path, op.bytes) : read(op.path, op.flags, op.maxBytes, transfer);
      } catch (error) {
        return failed(error);
      }
    });
    parentPort!.postMessage({ id, outcomes }, transfer);
  });
}

interface Waiting {
  op: FileOp;
  resolve: (outcome: FileOutcome) => void;
  reject: (error: Error) => void;
}

/** One worker thread and the batches it has been sent. */
class FileThread {
  private readonly worker: Worker;
  private readonly sent = new Map<number, Waiting[]>();
  private nextId = 0;
  private gone: Error | undefined;

  constructor(onGone: () => void) {
    // Eval'd from this function's own (compiled) text: the worker needs no file of its own.
    this.worker = new Worker(`(${workerMain.toString()})()`, { eval: true });
    this.worker.unref();
    this.worker.on("message", ({ id, outcomes }: { id: number; outcomes: FileOutcome[] }) => {
      const batch = this.sent.get(id)!;
      this.sent.delete(id);
      // It keeps the process alive only while it has work.
      if (this.sent.size === 0) this.worker.unref();
      for (const [i, waiting] of batch.entries()) waiting.resolve(outcomes[i]!);
    });
    const end = (error: Error) => {
      this.gone ??= error;
      onGone();
      for (const batch of this.sent.values()) for (const waiting of batch) waiting.reject(error);
      this.sent.clear();
    };
    this.worker.on("error", (error) => end(error));
    this.worker.on("exit", (code) => end(new Error(`the file worker thread exited (code ${code})`)));
  }

  /** Stops the thread; what it was sent is rejected. */
  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  get busy(): number {
    return this.sent.size;
  }

  send(batch: Waiting[]): void {
    if (this.gone) {
      for (const waiting of batch) waiting.reject(this.gone);
      return;
    }
    const id = this.nextId++;
    if (this.sent.size === 0) this.worker.ref();
    this.sent.set(id, batch);
    this.worker.postMessage({ id, ops: batch.map((waiting) => waiting.op) });
  }
}

/**
 * Worker threads for small files. What is asked of it in one turn of the event loop goes to the
 * least busy worker as one batch, sent once that turn ends. Workers start when first needed.
 */
export class FileWorkers {
  private readonly threads: (FileThread | undefined)[];
  private queue: Waiting[] = [];
  private scheduled = false;

  constructor(count: number) {
    this.threads = Array.from({ length: count }, () => undefined);
  }

  /** Writes `bytes` to a new file at `path` ("wx": never over another). Rejects as `fs` would. */
  async writeNew(path: string, bytes: Uint8Array): Promise<void> {
    const outcome = await this.run({ kind: "write", path, bytes });
    if (!outcome.ok) throw errnoError(outcome, path);
  }

  /**
   * Reads the file at `path`, opened with `flags`, when it is a regular file of at most
   * `maxBytes`; says why not otherwise. Rejects as `fs` would (ENOENT, ELOOP...).
   */
  async read(path: string, flags: number, maxBytes: number): Promise<SmallRead> {
    const outcome = await this.run({ kind: "read", path, flags, maxBytes });
    if (outcome.ok) {
      const bytes = outcome.bytes!;
      return { ok: true, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    }
    if (outcome.code === "NOT_A_FILE") return { ok: false, why: "not-a-file" };
    if (outcome.code === "TOO_LARGE") return { ok: false, why: "too-large", size: outcome.size! };
    throw errnoError(outcome, path);
  }

  /** Stops the threads (what they were sent is rejected); the next file starts them again. */
  async stop(): Promise<void> {
    const threads = this.threads.filter((thread) => thread !== undefined);
    this.threads.fill(undefined);
    await Promise.all(threads.map((thread) => thread.stop()));
  }

  private run(op: FileOp): Promise<FileOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let chosen = 0;
    for (let i = 0; i < this.threads.length; i++) {
      const thread = this.threads[i];
      if (!thread || thread.busy === 0) {
        chosen = i;
        break;
      }
      if (thread.busy < this.threads[chosen]!.busy) chosen = i;
    }
    let thread = this.threads[chosen];
    if (!thread) {
      const started = new FileThread(() => {
        if (this.threads[chosen] === started) this.threads[chosen] = undefined;
      });
      this.threads[chosen] = started;
      thread = started;
    }
    thread.send(batch);
  }
}

function errnoError(outcome: Extract<FileOutcome, { ok: false }>, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(outcome.message);
  error.code = outcome.code;
  error.path = path;
  if (outcome.syscall) error.syscall = outcome.syscall;
  return error;
}
