/**
 * Why `collect()` found nothing for this process, in words a user can act
 * on: which variable decided it, what started this process (its ancestors,
 * from `/proc/PID/stat` and `/proc/PID/cmdline`, where there is a `/proc`),
 * which wrapper stood in the way (`npm start`, `node --watch`, `bunx`, …) and
 * what to do instead. Only the error paths read `/proc`.
 *
 * @module
 */

import { system } from "../ffi/system.ts";
import { cBuffer, cString } from "../sys/memory.ts";
import type { HandoverError } from "../sys/errors.ts";
import type { LauncherHandoff, ListenEnvironment } from "./environment.ts";

/** One process, as `/proc` shows it. */
export interface ProcessEntry {
  readonly pid: number;
  /** Its parent's pid (0 for the first process of a pid namespace). */
  readonly ppid: number;
  /** Its command line (what it shows: Node's wrappers set their title, like `npm start`). */
  readonly argv: readonly string[];
}

const decoder = new TextDecoder();

/** A small file's bytes as text, through FFI (no `node:fs` in Deno's start-up), or undefined. */
function readSmallFile(path: string): string | undefined {
  const { libc, c } = system();
  const fd = libc.open(cString(path), c.O_CLOEXEC, 0);
  if (fd < 0) return undefined;
  try {
    const chunk = cBuffer(16384);
    let text = "";
    // Bounded: /proc entries this reads are a few kilobytes.
    for (let i = 0; i < 64; i++) {
      const n = libc.read(fd, chunk, chunk.byteLength);
      if (n <= 0) return n < 0 && text === "" ? undefined : text;
      text += decoder.decode(chunk.subarray(0, n), { stream: true });
    }
    return text;
  } finally {
    libc.close(fd);
  }
}

/**
 * A process as `/proc/PID/stat` (the parent: the field after the command
 * name in parentheses, which may itself hold spaces and parentheses) and
 * `/proc/PID/cmdline` show it.
 *
 * @param pid The process, or `self`.
 * @returns The entry, or undefined without `/proc` or when the process is gone.
 *
 * @example
 * ```ts ignore
 * processEntry("self")?.ppid; // this process's parent
 * ```
 */
export function processEntry(pid: number | "self"): ProcessEntry | undefined {
  if (system().os !== "linux") return undefined;
  const stat = readSmallFile(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const close = stat.lastIndexOf(")");
  const fields = stat.slice(close + 2).split(" ");
  const ppid = Number(fields[1]);
  const own = Number(stat.slice(0, stat.indexOf(" ")));
  const comm = stat.slice(stat.indexOf("(") + 1, close);
  const cmdline = readSmallFile(`/proc/${pid}/cmdline`) ?? "";
  // Node's wrappers overwrite their command line with a title (npm start), padded with spaces.
  const argv = cmdline.split("\0").map((arg) => arg.trim()).filter((arg) => arg !== "");
  return { pid: own, ppid, argv: argv.length > 0 ? argv : [comm] };
}

/**
 * This process and its ancestors, nearest first, up to `limit` of them.
 *
 * @param limit The most to list.
 * @returns The entries; only this process's own (or none) without `/proc`.
 *
 * @example
 * ```ts ignore
 * ancestry()[1]?.argv; // the parent's command line
 * ```
 */
export function ancestry(limit = 16): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  let next: number | "self" = "self";
  for (let i = 0; i < limit; i++) {
    const entry = processEntry(next);
    if (entry === undefined) break;
    entries.push(entry);
    if (entry.ppid <= 1) break;
    next = entry.ppid;
  }
  return entries;
}

const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

/** A command line, short: the program's base name and a few arguments. */
export function shortCommand(argv: readonly string[]): string {
  const words = [basename(argv[0] ?? "?"), ...argv.slice(1, 4).map((arg) => arg.includes("/") ? basename(arg) : arg)];
  const text = words.join(" ");
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A process in a message: `npm start (pid 12)`. */
const named = (entry: ProcessEntry): string => `${shortCommand(entry.argv)} (pid ${entry.pid})`;

/** The wrappers users put between a launcher and their app, as their command lines show them. */
export type Wrapper =
  | "node --watch"
  | "bun --watch"
  | "deno run --watch"
  | "tsx watch"
  | "nodemon"
  | "tsx"
  | "npm"
  | "npx"
  | "bunx"
  | "bun run"
  | "deno task"
  | "a shell";

/**
 * Which wrapper a command line is, if it is one of those users put in front
 * of their app.
 *
 * @param argv The command line.
 * @returns The wrapper, or undefined.
 *
 * @example
 * ```ts
 * import { wrapperOf } from "./diagnosis.ts";
 * wrapperOf(["node", "--watch", "app.js"]); // "node --watch"
 * wrapperOf(["npm start"]); // "npm"
 * ```
 */
export function wrapperOf(argv: readonly string[]): Wrapper | undefined {
  const program = basename(argv[0] ?? "");
  const args = argv.slice(1);
  const line = argv.join(" ");
  const watching = args.some((arg) => /^--(watch|hot|watch-hmr)(=|$)/.test(arg));
  // The program first (what runs), then what it runs.
  if (/^bunx(\.exe)?$/.test(program)) return "bunx";
  if (/^bun(\.exe)?$/.test(program)) {
    return watching ? "bun --watch" : args[0] === "x" ? "bunx" : args[0] === "run" ? "bun run" : undefined;
  }
  if (/^deno(\.exe)?$/.test(program)) {
    return watching ? "deno run --watch" : args[0] === "task" ? "deno task" : undefined;
  }
  // npm and npx show their title (npm start, npm exec tsx app.ts) or their script.
  if (/^npm (exec|x)\b/.test(line) || program === "npx" || args.some((arg) => /npx-cli\.js$/.test(arg))) return "npx";
  if (/^npm( |$)/.test(line) || args.some((arg) => /npm-cli\.js$/.test(arg))) return "npm";
  if (program === "nodemon" || args.some((arg) => /(^|\/)nodemon(\.js)?$|\/nodemon\/bin\//.test(arg))) return "nodemon";
  const tsx = args.findIndex((arg) => /(^|\/)tsx(\/dist\/cli\.m?js)?$/.test(arg));
  if (program === "tsx" || tsx >= 0) return args[tsx + 1] === "watch" ? "tsx watch" : "tsx";
  if (/^(node|nodejs)(\d+)?$/.test(program) && watching) return "node --watch";
  if (/^(sh|bash|dash|zsh|ash)$/.test(program) && args.includes("-c")) return "a shell";
  return undefined;
}

/** What a wrapper does to the sockets, for a message. */
const WRAPPER_EFFECT: Readonly<Partial<Record<Wrapper, string>>> = {
  "node --watch": "node --watch puts its IPC channel at fd 3 (NODE_CHANNEL_FD) in the process it restarts",
  "bun --watch": "bun --watch closes every fd from 3 on when it restarts the program",
  "deno run --watch": "deno run --watch restarts the program in this same process, after the first run took the " +
    "sockets and removed LISTEN_*",
  "bunx": "bunx closes every fd from 3 on in the processes it starts",
  "bun run": "bun run closes every fd from 3 on in the processes it starts",
};

/** The watchers the launcher's own `--watch` replaces. */
const WATCHERS: ReadonlySet<Wrapper> = new Set([
  "node --watch",
  "bun --watch",
  "deno run --watch",
  "tsx watch",
  "nodemon",
]);

/**
 * The launcher command that replaces a watcher: the watched command without
 * its watch flag, under `handover -w .` with the sockets named as the
 * watcher's environment named them.
 */
function watchFix(wrapper: Wrapper, argv: readonly string[], env: ListenEnvironment): string {
  const names = (env.LISTEN_FDNAMES ?? "NAME").split(":").slice(0, 3);
  const sockets = names.map((name) => `-s ${name === "" || name === "unknown" ? "" : `${name}=`}PORT`).join(" ");
  const words = argv.map((arg) => arg.includes("/") ? basename(arg) : arg);
  let command: string[];
  if (wrapper === "tsx watch") {
    command = ["npx", "tsx", ...words.slice(words.indexOf("watch") + 1)];
  } else if (wrapper === "nodemon") {
    command = ["node", ...words.slice(words.findIndex((word) => /^nodemon(\.js)?$/.test(word)) + 1)];
  } else {
    command = words.filter((word) => !/^--(watch|hot|watch-hmr|watch-path|watch-preserve-output)(=|$)/.test(word));
  }
  return `handover -w . ${sockets} -- ${command.join(" ")}`;
}

/** fd 3 of this process was the IPC channel of a Node parent (`NODE_CHANNEL_FD` in its first environment). */
function nodeChannelFd(): string | undefined {
  const environ = readSmallFile("/proc/self/environ");
  return environ?.split("\0").find((entry) => entry.startsWith("NODE_CHANNEL_FD="))?.slice("NODE_CHANNEL_FD=".length);
}

/** The chain from this process up to (not including) `pid`: `sh (pid 14) ← npm start (pid 12)`. */
function between(entries: readonly ProcessEntry[], pid: number): ProcessEntry[] {
  const end = entries.findIndex((entry) => entry.pid === pid);
  return entries.slice(1, end < 0 ? entries.length : end);
}

/** The wrapper nearest to `top` among `entries` (and `top` itself), the one that decided what reached us. */
function wrapperIn(entries: readonly ProcessEntry[]): { wrapper: Wrapper; entry: ProcessEntry } | undefined {
  let found: { wrapper: Wrapper; entry: ProcessEntry } | undefined;
  for (const entry of entries) {
    const wrapper = wrapperOf(entry.argv);
    // A shell is a wrapper only when nothing more telling is on the way.
    if (wrapper !== undefined && (found === undefined || found.wrapper === "a shell")) found = { wrapper, entry };
  }
  return found;
}

/**
 * The sentence after `Not started by a service manager: ` for a process the
 * environment was not addressed to: the reason (which variable decided),
 * what started this process, and what to do instead.
 *
 * @param reason What `parseListenEnvironment()` said, naming the variable.
 * @param env The variables as read.
 * @returns The explanation.
 *
 * @example
 * ```ts ignore
 * explainNotAddressed("LISTEN_PID is not set", {});
 * // "LISTEN_PID is not set: this process was started by bash (pid 10), not by a service manager; …"
 * ```
 */
export function explainNotAddressed(reason: string, env: ListenEnvironment): string {
  const entries = ancestry();
  const [self, parent] = entries;
  const startedBy = parent === undefined ? "" : `this process was started by ${named(parent)}`;
  if (env.LISTEN_PID === undefined && env.LISTEN_FDS !== undefined) {
    return `${reason} although LISTEN_FDS is ${JSON.stringify(env.LISTEN_FDS)}: a launcher that cannot set ` +
      "LISTEN_PID (like systemfd --no-pid) passed them; collect(name, { lenient: true }) accepts that";
  }
  if (env.LISTEN_PID === undefined) {
    const own = self === undefined ? undefined : wrapperOf(self.argv);
    if (self !== undefined && (own === "bun --watch" || own === "deno run --watch")) {
      // Restarted in place: a first run may have taken the sockets (and removed LISTEN_*); they are gone now.
      return `${reason}: this process runs under ${own}, which restarts the program in this same process without ` +
        `the sockets a first run took (LISTEN_* were removed${
          own === "bun --watch" ? ", and it closes every fd from 3 on" : ""
        }); ` +
        `let the launcher watch files instead: ${watchFix(own, self.argv, env)}`;
    }
    return `${reason}${startedBy === "" ? "" : `: ${startedBy}, not by a service manager`}; to pass it sockets, ` +
      "start it from a systemd .socket unit or with the launcher (handover -s NAME=PORT -- COMMAND), or catch " +
      "ESRCH and listen on a port of its own";
  }
  if (!/^LISTEN_PID is /.test(reason) || entries.length === 0) {
    return startedBy === "" ? reason : `${reason}; ${startedBy}`;
  }
  const holder = entries.find((entry) => entry.pid === Number(env.LISTEN_PID) && entry !== self);
  if (holder === undefined) {
    return `${reason}, nor one of its ancestors${startedBy === "" ? "" : ` (${startedBy})`}: the variables were ` +
      "inherited from another process's environment; unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES before " +
      "starting this one";
  }
  const chain = between(entries, holder.pid);
  const through = chain.length === 0 ? "" : ` through ${[...chain].reverse().map(named).join(", ")}`;
  const wrapper = wrapperIn([...chain, holder]);
  const channel = nodeChannelFd();
  const ipc = channel === undefined
    ? ""
    : `; fd ${channel} here is the IPC channel (NODE_CHANNEL_FD) of ${named(parent ?? holder)}, not a socket`;
  const fix = wrapper !== undefined && WATCHERS.has(wrapper.wrapper)
    ? `; in development, let the launcher watch files instead of ${wrapper.wrapper}: ${
      watchFix(wrapper.wrapper, wrapper.entry.argv, env)
    }`
    : "; on a laptop, the handover launcher passes them through wrappers";
  return `${reason}: the sockets were passed to ${named(holder)}, which started this process${through}${ipc}; a ` +
    "service manager passes sockets only to the process it starts, so start the app itself (ExecStart= running " +
    `node, bun or deno on the app rather than ${shortCommand(holder.argv)})${fix}`;
}

/**
 * Why the sockets the `handover` launcher passed did not reach this process
 * (the launcher's `HANDOVER_LAUNCHER` is set, but neither fd 3 and on, nor the
 * spare copies, nor the launcher itself gave the fd it named).
 *
 * @param handoff What `HANDOVER_LAUNCHER` says.
 * @param env The variables as read.
 * @param missing Which fd (its index) was not found.
 * @param launcherError Why the launcher could not be asked for it.
 * @returns The explanation.
 *
 * @example
 * ```ts ignore
 * explainLauncherFdsLost(handoff, env, 0, undefined);
 * ```
 */
export function explainLauncherFdsLost(
  handoff: LauncherHandoff,
  env: ListenEnvironment,
  missing: number,
  launcherError: HandoverError | undefined,
): string {
  const entries = ancestry();
  const names = env.LISTEN_FDNAMES?.split(":");
  const which = `fd ${3 + missing}${names?.[missing] === undefined ? "" : ` (${JSON.stringify(names[missing])})`}`;
  const chain = between(entries, handoff.pid);
  const wrapper = wrapperIn(entries.slice(0, 1 + chain.length));
  const effect = wrapper === undefined
    ? "a process on the way closed it or put another file at its number"
    : WRAPPER_EFFECT[wrapper.wrapper] ?? `${wrapper.wrapper} (${named(wrapper.entry)}) did not pass it on`;
  const asked = launcherError === undefined
    ? ""
    : `; taking it from the launcher with pidfd_getfd(2) failed with ${launcherError.code}` +
      (launcherError.code === "EPERM"
        ? " (the kernel lets a process take another's fds only where it may trace it: Yama's ptrace_scope 0, or " +
          "CAP_SYS_PTRACE)"
        : launcherError.code === "ENOSYS"
        ? " (Linux 5.6 or later has it)"
        : "");
  const fix = wrapper !== undefined && WATCHERS.has(wrapper.wrapper)
    ? `let the launcher watch files instead: ${watchFix(wrapper.wrapper, wrapper.entry.argv, env)}`
    : "start the app itself under the launcher (handover -s NAME=PORT -- node app.js, bun app.ts or deno run -A app.ts)";
  if (chain.length === 0) {
    return `${which} is not the socket the handover launcher (pid ${handoff.pid}) passed: ${effect}${asked}; ${fix}`;
  }
  const to = named(chain[chain.length - 1]!);
  const via = chain.length <= 1
    ? ""
    : `, which started this process through ${chain.slice(0, -1).reverse().map(named).join(", ")}`;
  return `the handover launcher (pid ${handoff.pid}) passed ${handoff.inodes.length} fd${
    handoff.inodes.length === 1 ? "" : "s"
  } to ${to}${via}, but ${which} did not reach this process: ${effect}${asked}; ${fix}`;
}
