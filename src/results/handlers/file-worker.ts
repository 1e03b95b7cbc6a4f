// Small files, written and read in batches by worker threads. A batch of 50 values is 150 system
// calls; made from libuv's pool, each is a trip to a pool thread and back, and the threads of
// one directory's creations wait on its lock in the kernel anyway. A worker makes the calls of
// every file asked for in one turn of the event loop, one after another, and answers once.
// The bytes of a batch's files travel together, in one buffer each way, moved rather than copied.
import { Worker } from "node:worker_threads";

/** A read a worker is asked for: the same whether it is queued or sent. */
type ReadOp = { kind: "read"; path: string; flags: number; maxBytes: number };

/** An error as the file system gave it (or why a file was not read): the same either way too. */
type FileFailure = { ok: false; code: string; message: string; syscall?: string; size?: number };

/** What a worker is asked to do with one file. */
type FileOp = { kind: "write"; path: string; bytes: Uint8Array } | ReadOp;

/** What came of it: the bytes read, or a failure. */
type FileOutcome = { ok: true; bytes?: Buffer } | FileFailure;

/** An operation as it is sent: a write's bytes are its batch's piece `piece` (see pieceOf). */
type SentOp = { kind: "write"; path: string; piece: number } | ReadOp;

/** An outcome as it comes back: the bytes read are its batch's piece `piece`. */
type SentOutcome = { ok: true; piece?: number } | FileFailure;

/**
 * A batch, either way: its operations (or their outcomes), and the bytes of its files in one
 * buffer, piece after piece, each ending at its `ends` entry. The buffer is moved, not copied.
 */
interface SentBatch<T> {
  id: number;
  items: T[];
  bytes: Uint8Array;
  ends: number[];
}

/** A batch's message: `items`, with the bytes of `pieces` in one buffer. */
function sentBatch<T>(id: number, items: T[], pieces: readonly Uint8Array[]): SentBatch<T> {
  let total = 0;
  for (const piece of pieces) total += piece.length;
  // Not Buffer.allocUnsafe: a small one is a slice of Node's shared pool, which cannot be moved.
  const bytes = new Uint8Array(total);
  const ends: number[] = [];
  let at = 0;
  for (const piece of pieces) {
    bytes.set(piece, at);
    at += piece.length;
    ends.push(at);
  }
  return { id, items, bytes, ends };
}

/** The bytes of a batch's piece `piece`. The worker is given this function's text too. */
function pieceOf(batch: SentBatch<unknown>, piece: number): Uint8Array {
  return batch.bytes.subarray(piece === 0 ? 0 : batch.ends[piece - 1], batch.ends[piece]);
}

/** A file read by a worker: its bytes, or why it was not read. */
export type SmallRead =
  | { ok: true; bytes: Buffer }
  | { ok: false; why: "not-a-file" }
  | { ok: false; why: "too-large"; size: number };

/**
 * The worker's code. It runs alone in the worker (a script of its own, as CommonJS), so it
 * refers to nothing outside itself but pieceOf. Every file of a batch is done, in
 * order, whatever became of the others; a file opened is closed before the next.
 */
function workerMain(): void {
  const { parentPort } = require("node:worker_threads") as typeof import("node:worker_threads");
  const fs = require("node:fs") as typeof import("node:fs");
  const failed = (error: unknown): SentOutcome => {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, code: e.code ?? "EIO", message: e.message, ...(e.syscall ? { syscall: e.syscall } : {}) };
  };
  const write = (path: string, bytes: Uint8Array): SentOutcome => {
    const fd = fs.openSync(path, "wx");
    try {
      for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    } finally {
      fs.closeSync(fd);
    }
    return { ok: true };
  };
  /** Reads a file into `answer`'s buffer, after the pieces already there, as a piece of its own. */
  const read = (path: string, flags: number, maxBytes: number, answer: SentBatch<SentOutcome>): SentOutcome => {
    const fd = fs.openSync(path, flags);
    try {
      const stats = fs.fstatSync(fd);
      if (!stats.isFile()) return { ok: false, code: "NOT_A_FILE", message: "not a regular file" };
      if (stats.size > maxBytes) return { ok: false, code: "TOO_LARGE", message: "too large", size: stats.size };
      const start = answer.ends.at(-1) ?? 0;
      let filled = 0;
      while (filled < stats.size) {
        const read = fs.readSync(fd, answer.bytes, start + filled, stats.size - filled, filled);
        if (read === 0) break;
        filled += read;
      }
      answer.ends.push(start + filled);
      return { ok: true, piece: answer.ends.length - 1 };
    } finally {
      fs.closeSync(fd);
    }
  };
  parentPort!.on("message", (batch: SentBatch<SentOp>) => {
    // Room for every file read at its largest: each is refused when larger.
    let room = 0;
    for (const op of batch.items) if (op.kind === "read") room += op.maxBytes;
    const answer: SentBatch<SentOutcome> = { id: batch.id, items: [], bytes: new Uint8Array(room), ends: [] };
    for (const op of batch.items) {
      try {
        answer.items.push(
          op.kind === "write" ? write(op.path, pieceOf(batch, op.piece)) : read(op.path, op.flags, op.maxBytes, answer),
        );
      } catch (error) {
        answer.items.push(failed(error));
      }
    }
    parentPort!.postMessage(answer, [answer.bytes.buffer as ArrayBuffer]);
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
    // Eval'd from the (compiled) text of its functions: the worker needs no file of its own.
    this.worker = new Worker(`${pieceOf}\n(${workerMain})()`, { eval: true });
    this.worker.unref();
    this.worker.on("message", (answer: SentBatch<SentOutcome>) => {
      const batch = this.sent.get(answer.id)!;
      this.sent.delete(answer.id);
      // It keeps the process alive only while it has work.
      if (this.sent.size === 0) this.worker.unref();
      for (const [i, waiting] of batch.entries()) {
        const outcome = answer.items[i]!;
        if (!outcome.ok || outcome.piece === undefined) {
          waiting.resolve(outcome.ok ? { ok: true } : outcome);
          continue;
        }
        const bytes = pieceOf(answer, outcome.piece);
        waiting.resolve({ ok: true, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
      }
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
    const written: Uint8Array[] = [];
    const items = batch.map(({ op }): SentOp => {
      if (op.kind === "read") return op;
      written.push(op.bytes);
      return { kind: "write", path: op.path, piece: written.length - 1 };
    });
    const message = sentBatch(id, items, written);
    this.worker.postMessage(message, [message.bytes.buffer as ArrayBuffer]);
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
      return { ok: true, bytes: outcome.bytes! };
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
