/**
 * The processes an app instance is made of, as far as the launcher can see
 * them without a cgroup: its process group (the launcher starts each
 * instance in a session of its own), its session, its descendants, and the
 * orphans that come back to the launcher because it is their child
 * subreaper (prctl(2) `PR_SET_CHILD_SUBREAPER`), such as a daemon the app
 * double-forked. Read from `/proc` (proc(5)); where there is no `/proc`
 * (macOS) only the process group is known.
 *
 * @module
 */

import { readdirSync } from "node:fs";
import { readProcFile } from "./proc.ts";
import { cBuffer } from "../sys/memory.ts";
import { system } from "../ffi/system.ts";

/** One line of `/proc/PID/stat`, the fields the launcher needs. */
export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  /** The process group. */
  readonly pgid: number;
  /** The session. */
  readonly sid: number;
  /** `R`, `S`, `Z` (a zombie, waiting to be reaped)… */
  readonly state: string;
  /** When it started, in clock ticks after boot: tells a reused pid apart. */
  readonly startTime: number;
}

/** The most processes read in one scan of `/proc`. */
const MAX_PROCESSES = 1 << 17;
/** The deepest ancestry followed. */
const MAX_DEPTH = 256;

/**
 * Reads `/proc/PID/stat`.
 *
 * @param pid The process.
 * @returns Its entry, or undefined when it is gone or there is no `/proc`.
 *
 * @example This process
 * ```ts
 * import process from "node:process";
 * import { processEntry } from "./process_tree.ts";
 * processEntry(process.pid)?.pid === process.pid; // true on Linux
 * ```
 */
export function processEntry(pid: number): ProcessEntry | undefined {
  let text: string;
  try {
    text = readProcFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself hold ") ": the fields start after the last one. Fields 0–3
  // and 19 are read where they are, without splitting the line into its fifty-odd fields.
  const starts: number[] = [];
  for (let at = text.lastIndexOf(")") + 2; at > 1 && starts.length < 21; at = text.indexOf(" ", at) + 1) {
    starts.push(at);
  }
  if (starts.length < 21) return undefined;
  const field = (i: number): string => text.slice(starts[i], starts[i + 1]! - 1);
  return {
    pid,
    state: field(0),
    ppid: Number(field(1)),
    pgid: Number(field(2)),
    sid: Number(field(3)),
    startTime: Number(field(19)),
  };
}

/**
 * Reads every process of `/proc` (bounded).
 *
 * @returns The processes by pid, or undefined where there is no `/proc`.
 *
 * @example Every process this user can see
 * ```ts
 * import process from "node:process";
 * import { processTable } from "./process_tree.ts";
 * processTable()?.has(process.pid); // true on Linux
 * ```
 */
export function processTable(): Map<number, ProcessEntry> | undefined {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const table = new Map<number, ProcessEntry>();
  for (const name of names) {
    if (table.size >= MAX_PROCESSES) break;
    const first = name.charCodeAt(0);
    if (first < 0x30 || first > 0x39) continue;
    const entry = processEntry(Number(name));
    if (entry !== undefined) table.set(entry.pid, entry);
  }
  return table;
}

/** The last table {@link recentProcessTable} read, and when (`performance.now()`). */
let recent: { readonly table: Map<number, ProcessEntry> | undefined; readonly at: number } | undefined;

/**
 * {@link processTable}, or the one read less than `maxAgeMs` ago: for the supervisors' periodic looks, so that
 * several apps' supervisors ticking within the same second read `/proc` once.
 *
 * @param maxAgeMs How old a table may be.
 * @returns The processes by pid, or undefined where there is no `/proc`.
 *
 * @example Two looks within a second read `/proc` once
 * ```ts
 * import { recentProcessTable } from "./process_tree.ts";
 * recentProcessTable() === recentProcessTable(); // true
 * ```
 */
export function recentProcessTable(maxAgeMs = 1_000): Map<number, ProcessEntry> | undefined {
  const now = performance.now();
  if (recent === undefined || now - recent.at >= maxAgeMs) recent = { table: processTable(), at: now };
  return recent.table;
}

/**
 * Makes this process the child subreaper of its descendants (Linux 3.4+):
 * a process whose parent dies is re-parented to us instead of to init, so
 * an app's daemon stays in reach.
 *
 * @returns True when it took effect, false where the platform has no such thing.
 *
 * @example
 * ```ts ignore
 * becomeSubreaper();
 * ```
 */
export function becomeSubreaper(): boolean {
  const { libc, c, os } = system();
  if (os !== "linux" || c.PR_SET_CHILD_SUBREAPER === 0) return false;
  return libc.prctl(c.PR_SET_CHILD_SUBREAPER, 1) === 0;
}

/**
 * Reaps a child that has ended, without waiting. Only for children the
 * runtime does not know about (orphans re-parented to us): the runtime reaps
 * the ones it spawned, and taking their status would lose their exit event.
 *
 * @param pid The child.
 * @returns True when it was reaped.
 *
 * @example
 * ```ts
 * import "../../mod.ts";
 * import { reapChild } from "./process_tree.ts";
 * reapChild(process.pid); // false: not our child
 * ```
 */
export function reapChild(pid: number): boolean {
  const { libc, c } = system();
  return libc.waitpid(pid, cBuffer(4), c.WNOHANG) > 0;
}

/** An instance of the app, as {@link instanceMembers} sees it. */
export interface InstanceRoot {
  /** Its main process: the leader of its session and process group. */
  readonly pid: number;
  /** The main process's start time (`/proc/PID/stat`), or undefined where unknown. */
  readonly startTime: number | undefined;
}

/** Whether `a` started before `b`: by start time, and within one clock tick by pid. */
function startedBefore(
  a: { readonly pid: number; readonly startTime: number },
  b: { readonly pid: number; readonly startTime: number },
): boolean {
  return a.startTime < b.startTime || (a.startTime === b.startTime && a.pid < b.pid);
}

/**
 * The processes of an instance besides its main process: members of its
 * process group or session, its descendants, and orphans re-parented to the
 * launcher that started after it and before any later instance (another of
 * the launcher's spawned children that is still there), since that one's
 * orphans are its own. Start times count in clock ticks (10 ms); within one
 * tick the pids tell the order, since the kernel hands them out in increasing
 * order (it wraps at `pid_max`, which within one tick would mislead). Zombies
 * are left out: they are gone, only waiting to be reaped.
 *
 * @param table The processes ({@link processTable}).
 * @param root The instance.
 * @param launcher The launcher's pid.
 * @param spawned The launcher's children that the runtime itself waits for (instances, the guard).
 * @returns Their pids.
 *
 * @example An instance with a child and an escaped daemon
 * ```ts
 * import { instanceMembers, type ProcessEntry } from "./process_tree.ts";
 * const at = (pid: number, ppid: number, pgid: number, startTime: number): [number, ProcessEntry] => [
 *   pid,
 *   { pid, ppid, pgid, sid: pgid, state: "S", startTime },
 * ];
 * const table = new Map([
 *   at(10, 1, 10, 50), // the launcher
 *   at(20, 10, 20, 100), // the instance's main process, which the launcher spawned
 *   at(21, 20, 20, 101), // its child
 *   at(30, 10, 30, 102), // a daemon it double-forked: it left the group and came back to the launcher
 *   at(40, 1, 40, 90), // someone else's
 * ]);
 * instanceMembers(table, { pid: 20, startTime: 100 }, 10, new Set([20])); // [21, 30]
 * // A new instance (pid 50) started beside it in the daemon's clock tick, after it (a higher pid), and a daemon
 * // (pid 60) that came back later: the first daemon is still the old instance's, the second is the new one's.
 * table.set(...at(50, 10, 50, 102));
 * table.set(...at(60, 10, 60, 102));
 * instanceMembers(table, { pid: 20, startTime: 100 }, 10, new Set([20, 50])); // [21, 30]
 * instanceMembers(table, { pid: 50, startTime: 102 }, 10, new Set([20, 50])); // [60]
 * ```
 */
export function instanceMembers(
  table: ReadonlyMap<number, ProcessEntry>,
  root: InstanceRoot,
  launcher: number,
  spawned: ReadonlySet<number>,
): number[] {
  const verdicts = new Map<number, boolean>();
  const start = root.startTime;
  // Where the next instance began, if one did: orphans from then on are not this instance's.
  let until: ProcessEntry | undefined;
  for (const pid of spawned) {
    const later = table.get(pid);
    if (
      later !== undefined && pid !== root.pid && start !== undefined &&
      startedBefore({ pid: root.pid, startTime: start }, later) && (until === undefined || startedBefore(later, until))
    ) {
      until = later;
    }
  }
  const belongs = (entry: ProcessEntry): boolean => {
    const path: number[] = [];
    let verdict = false;
    let current: ProcessEntry | undefined = entry;
    for (let depth = 0; current !== undefined && depth < MAX_DEPTH; depth++) {
      const known = verdicts.get(current.pid);
      if (known !== undefined) {
        verdict = known;
        break;
      }
      path.push(current.pid);
      if (current.pid === root.pid || current.pgid === root.pid || current.sid === root.pid) {
        verdict = true;
        break;
      }
      if (current.ppid === launcher) {
        // A child of ours: an instance or the guard (not this instance's, or we would have stopped above),
        // or an orphan that came back to us.
        verdict = !spawned.has(current.pid) && start !== undefined &&
          !startedBefore(current, { pid: root.pid, startTime: start }) &&
          (until === undefined || startedBefore(current, until));
        break;
      }
      if (current.ppid <= 1) break;
      current = table.get(current.ppid);
    }
    for (const pid of path) verdicts.set(pid, verdict);
    return verdict;
  };
  const members: number[] = [];
  for (const entry of table.values()) {
    if (entry.pid === root.pid || entry.pid === launcher || entry.state === "Z" || entry.state === "X") continue;
    if (belongs(entry)) members.push(entry.pid);
  }
  return members;
}

/**
 * The zombies among the launcher's children that the runtime does not wait
 * for: orphans that came back to us and ended.
 *
 * @param table The processes.
 * @param launcher The launcher's pid.
 * @param spawned The children the runtime waits for itself.
 * @returns Their pids.
 *
 * @example Only the zombies the runtime does not wait for
 * ```ts
 * import { orphanZombies } from "./process_tree.ts";
 * const table = new Map([
 *   [20, { pid: 20, ppid: 10, pgid: 20, sid: 20, state: "Z", startTime: 100 }], // an instance: the runtime's
 *   [30, { pid: 30, ppid: 10, pgid: 30, sid: 30, state: "Z", startTime: 102 }], // an orphan that ended
 * ]);
 * orphanZombies(table, 10, new Set([20])); // [30]
 * ```
 */
export function orphanZombies(
  table: ReadonlyMap<number, ProcessEntry>,
  launcher: number,
  spawned: ReadonlySet<number>,
): number[] {
  const zombies: number[] = [];
  for (const entry of table.values()) {
    if (entry.ppid === launcher && entry.state === "Z" && !spawned.has(entry.pid)) zombies.push(entry.pid);
  }
  return zombies;
}

/**
 * Whether `pid` is in the tree of one of `roots` (one of them, a descendant,
 * a member of its group or session) or an orphan that came back to the
 * launcher: what systemd's `NotifyAccess=all` calls the unit's processes.
 *
 * @param pid The process to place.
 * @param roots The instances' main pids.
 * @param launcher The launcher's pid.
 * @returns True or false, or undefined when the process cannot be read (gone, or no `/proc`).
 *
 * @example A process is in its own tree
 * ```ts
 * import process from "node:process";
 * import { inTree } from "./process_tree.ts";
 * inTree(process.pid, [process.pid], 0); // true on Linux
 * ```
 */
export function inTree(pid: number, roots: readonly number[], launcher: number): boolean | undefined {
  let entry = processEntry(pid);
  if (entry === undefined) return undefined;
  for (let depth = 0; entry !== undefined && depth < MAX_DEPTH; depth++) {
    if (roots.includes(entry.pid) || roots.includes(entry.pgid) || roots.includes(entry.sid)) return true;
    if (entry.ppid === launcher) return true;
    if (entry.ppid <= 1) return false;
    entry = processEntry(entry.ppid);
  }
  return false;
}
