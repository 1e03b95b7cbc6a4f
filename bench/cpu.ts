// CPU time a load costs each process it runs across, from /proc (Linux): the server under load,
// PostgreSQL's processes (when it runs on this machine) and this one, the load generator. On two
// cores, where all three share them, what a row spends per request says what bounds it.
import { readdirSync, readFileSync } from "node:fs";

/** Milliseconds of CPU per operation (request, or SQL statement). */
export interface CpuPerOperation {
  /** The server the load was sent to (none for loads straight on PostgreSQL). */
  server?: number;
  /** Every PostgreSQL process on this machine; none when none is (a server elsewhere). */
  postgres?: number;
  load: number;
}

// Linux counts CPU time in clock ticks of 10 ms (USER_HZ, 100 on every common architecture).
const MS_PER_TICK = 10;

/** A process's command name and its /proc stat fields after it; undefined when it is gone. */
function statOf(pid: string | number): { command: string; fields: string[] } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses, and may hold spaces and parentheses itself.
    const end = stat.lastIndexOf(")");
    return { command: stat.slice(stat.indexOf("(") + 1, end), fields: stat.slice(end + 2).split(" ") };
  } catch {
    return undefined;
  }
}

/**
 * User and system CPU time of a process, all its threads, in ms, from its stat fields, and with
 * `reaped` that of its children that have exited.
 */
function cpuMsOf(fields: readonly string[], reaped = false): number {
  // utime, stime, cutime and cstime are the 12th to the 15th fields after the command name.
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [number, number, number, number];
  return (utime + stime + (reaped ? cutime + cstime : 0)) * MS_PER_TICK;
}

/** The CPU time of the process `pid`, in ms; undefined when it is gone. */
function processCpuMs(pid: number): number | undefined {
  const stat = statOf(pid);
  return stat && cpuMsOf(stat.fields);
}

/**
 * The CPU time of every PostgreSQL process, in ms; undefined when there is none (or no /proc).
 * Backends and autovacuum workers come and go: the time of those that have exited is counted in
 * their parent's (the postmaster's) reaped children's, so the sum only grows.
 */
function postgresCpuMs(): number | undefined {
  let total: number | undefined;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    const stat = statOf(pid); // none when gone meanwhile
    if (stat?.command !== "postgres") continue;
    total = (total ?? 0) + cpuMsOf(stat.fields, true);
  }
  return total;
}

function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Runs a load and adds the CPU time each process spent on it per operation. `serverPid`: the
 * server under load, if any. Without /proc, only the load generator's own time is given.
 */
export async function withCpu<T extends { operations: number }>(
  serverPid: number | undefined,
  run: () => Promise<T>,
): Promise<T & { cpu: CpuPerOperation }> {
  const server = serverPid === undefined ? undefined : processCpuMs(serverPid);
  const postgres = postgresCpuMs();
  const load = ownCpuMs();
  const result = await run();
  const per = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined || result.operations === 0
      ? undefined
      : (after - before) / result.operations;
  const cpu: CpuPerOperation = { load: per(load, ownCpuMs())! };
  const serverMs = per(server, serverPid === undefined ? undefined : processCpuMs(serverPid));
  const postgresMs = per(postgres, postgresCpuMs());
  if (serverMs !== undefined) cpu.server = serverMs;
  if (postgresMs !== undefined) cpu.postgres = postgresMs;
  return { ...result, cpu };
}
