/**
 * The systemd socket-activation environment (`LISTEN_PID`, `LISTEN_PIDFDID`,
 * `LISTEN_FDS`, `LISTEN_FDNAMES`, and systemfd's `LISTEN_FDS_FIRST_FD`),
 * parsed with libsystemd's exact rules (`src/libsystemd/sd-daemon/sd-daemon.c`,
 * `sd_listen_fds_with_names()`; numbers as `safe_atoi()`/`parse_pid()` in
 * `src/basic/parse-util.c`; names as `strv_split_full()` with
 * `EXTRACT_DONT_COALESCE_SEPARATORS`). Pure: no C calls, no environment access.
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";

/**
 * The environment variable that names another library to call
 * `launch_activate_socket` in (and `free` from), on any operating system.
 * For tests: handover's own suite sets it to a stand-in built from a few
 * lines of C.
 */
export const LAUNCHD_LIBRARY_VARIABLE = "HANDOVER_LAUNCHD_LIBRARY";

/** The first fd systemd passes (`SD_LISTEN_FDS_START`). */
export const LISTEN_FDS_START = 3;

/** The variables libsystemd unsets after reading them. */
export const LISTEN_VARIABLES: readonly string[] = ["LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/** systemfd's variable for the first fd when it is not 3 (lenient mode only). */
export const FIRST_FD_VARIABLE = "LISTEN_FDS_FIRST_FD";

/**
 * The variable the `handover` launcher adds to `LISTEN_*`, so that an app it
 * starts through a wrapper (`npm start`, `npx tsx`, `node --watch`, …) can
 * take the sockets although `LISTEN_PID` names the wrapper: the launcher's
 * pid, its own fd numbers and the inode of each fd, and the first of the
 * spare copies it places in the child above the fds Node's start-up marks
 * close-on-exec. Never set by systemd, so libsystemd's rules hold there.
 */
export const LAUNCHER_VARIABLE = "HANDOVER_LAUNCHER";

/** What {@link LAUNCHER_VARIABLE} says, one entry per fd of `LISTEN_FDS`. */
export interface LauncherHandoff {
  /** The launcher's pid. */
  readonly pid: number;
  /** The fd numbers in the launcher (what pidfd_getfd(2) takes them from). */
  readonly fds: readonly number[];
  /** The inode of each fd, which tells the launcher's sockets from any other fd at the same number. */
  readonly inodes: readonly bigint[];
  /** The fd number of the first spare copy in the launcher's child; the others follow; 0: none. */
  readonly spare: number;
}

/**
 * Writes {@link LAUNCHER_VARIABLE}: `pid=…;fds=…;inodes=…;spare=…`.
 *
 * @param handoff What it says.
 * @returns The value.
 *
 * @example
 * ```ts
 * import { formatLauncherHandoff } from "./environment.ts";
 * formatLauncherHandoff({ pid: 40, fds: [5], inodes: [81234n], spare: 64 }); // "pid=40;fds=5;inodes=81234;spare=64"
 * ```
 */
export function formatLauncherHandoff(handoff: LauncherHandoff): string {
  return `pid=${handoff.pid};fds=${handoff.fds.join(",")};inodes=${handoff.inodes.join(",")};spare=${handoff.spare}`;
}

/**
 * Reads {@link LAUNCHER_VARIABLE} as {@link formatLauncherHandoff} writes it.
 *
 * @param text The value.
 * @returns What it says.
 * @throws {HandoverError} `EINVAL` naming the variable and its value when it is not what the launcher writes.
 *
 * @example
 * ```ts
 * import { parseLauncherHandoff } from "./environment.ts";
 * parseLauncherHandoff("pid=40;fds=5,6;inodes=81234,81240;spare=64").fds; // [5, 6]
 * ```
 */
export function parseLauncherHandoff(text: string): LauncherHandoff {
  const fields = new Map(
    text.split(";").map((field) => {
      const eq = field.indexOf("=");
      return [field.slice(0, eq), field.slice(eq + 1)] as const;
    }),
  );
  const list = (key: string): string[] => fields.get(key)?.split(",") ?? [];
  const pid = plainDecimal(fields.get("pid") ?? "");
  const spare = fields.get("spare") === "0" ? 0 : plainDecimal(fields.get("spare") ?? "");
  const fds = list("fds").map((fd) => plainDecimal(fd));
  const inodes = list("inodes").map((inode) => /^[1-9][0-9]{0,19}$/.test(inode) ? BigInt(inode) : undefined);
  if (
    pid === undefined || spare === undefined || fds.length === 0 || fds.length !== inodes.length ||
    fds.includes(undefined) || inodes.includes(undefined)
  ) {
    throw invalid(
      LAUNCHER_VARIABLE,
      text,
      "pid=PID;fds=FD,…;inodes=INODE,…;spare=FD as the handover launcher writes it",
    );
  }
  return { pid, fds: fds as number[], inodes: inodes as bigint[], spare };
}

/** The activation variables as found in the environment (undefined: not set). */
export interface ListenEnvironment {
  readonly LISTEN_PID?: string | undefined;
  readonly LISTEN_PIDFDID?: string | undefined;
  readonly LISTEN_FDS?: string | undefined;
  readonly LISTEN_FDNAMES?: string | undefined;
  readonly LISTEN_FDS_FIRST_FD?: string | undefined;
  /** What the `handover` launcher adds ({@link LAUNCHER_VARIABLE}); libsystemd's rules do not read it. */
  readonly HANDOVER_LAUNCHER?: string | undefined;
}

/** What {@link parseListenEnvironment} needs besides the variables. */
export interface ParseListenOptions {
  /** This process's pid. */
  readonly pid: number;
  /**
   * Accept a missing `LISTEN_PID` (systemfd `--no-pid`) and take the first fd
   * from `LISTEN_FDS_FIRST_FD` when set. Off by default: libsystemd does neither.
   */
  readonly lenient?: boolean;
  /**
   * The inode of this process's pidfd, or undefined when the kernel cannot
   * tell (no pidfd_open(2), or pidfds without pidfs before Linux 6.9). Called
   * only when `LISTEN_PIDFDID` is set.
   */
  readonly ownPidfdId?: () => bigint | undefined;
}

/** The result of {@link parseListenEnvironment}. */
export type ListenEnvironmentResult =
  | {
    /** The variables are not addressed to this process (libsystemd returns 0). */
    readonly addressed: false;
    /** Why, for `ESRCH` messages. */
    readonly reason: string;
  }
  | {
    readonly addressed: true;
    /** The first fd (3, or `LISTEN_FDS_FIRST_FD` in lenient mode). */
    readonly first: number;
    /** How many fds, from `first` on. */
    readonly count: number;
    /** The names of `LISTEN_FDNAMES`, or undefined when it is not set (every fd is `unknown`). */
    readonly names: readonly string[] | undefined;
  };

const BASE_PREFIXES: Readonly<Record<string, number>> = { "0b": 2, "0B": 2, "0o": 8, "0O": 8 };

// C isspace() in the C locale, which strtol() skips.
const C_SPACE = " \t\n\v\f\r";
// systemd's WHITESPACE, which safe_ato*() skip before looking for 0b/0o.
const SYSTEMD_WHITESPACE = " \t\n\r";

type Scan =
  | { readonly ok: true; readonly negative: boolean; readonly magnitude: bigint; readonly afterPrefix: string }
  | { readonly ok: false };

// A plain decimal of 1 to 9 digits without a leading zero (what service managers write): its value, which
// every parser below would give too (base 10, no sign, no spaces, below INT_MAX); otherwise undefined, and
// the full scan decides. At start-up this spares the first run of the scan's BigInt code (about 0.2 ms).
function plainDecimal(text: string): number | undefined {
  if (text.length === 0 || text.length > 9 || text.charCodeAt(0) === 48) return undefined;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * strtol(3)/strtoull(3) after systemd's `mangle_base()`: the magnitude and
 * sign of a whole string, or failure when there are no digits or anything
 * follows them.
 */
function scanInteger(text: string): Scan {
  let s = text;
  let start = 0;
  while (start < s.length && SYSTEMD_WHITESPACE.includes(s[start]!)) start++;
  s = s.slice(start);
  let base = 0;
  const prefix = BASE_PREFIXES[s.slice(0, 2)];
  if (prefix !== undefined) {
    base = prefix;
    s = s.slice(2);
  }
  const afterPrefix = s;
  let i = 0;
  while (i < s.length && C_SPACE.includes(s[i]!)) i++;
  let negative = false;
  if (s[i] === "+" || s[i] === "-") {
    negative = s[i] === "-";
    i++;
  }
  if (base === 0) {
    if (s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") && /^[0-9a-fA-F]$/.test(s[i + 2] ?? "")) {
      base = 16;
      i += 2;
    } else if (s[i] === "0") {
      base = 8;
    } else {
      base = 10;
    }
  }
  let magnitude = 0n;
  let digits = 0;
  for (; i < s.length; i++) {
    const digit = parseInt(s[i]!, 16);
    if (Number.isNaN(digit) || digit >= base) break;
    magnitude = magnitude * BigInt(base) + BigInt(digit);
    digits++;
  }
  if (digits === 0 || i !== s.length) return { ok: false };
  return { ok: true, negative, magnitude, afterPrefix };
}

const INT_MAX = 0x7fffffff;
const U64 = 1n << 64n;

/**
 * Parses a number as libsystemd's `safe_atoi()` does: leading white space,
 * a sign, `0x` hex, `0` octal, `0b` binary, `0o` octal; nothing after it.
 *
 * @param text The value.
 * @returns The number, or undefined when libsystemd would reject it.
 *
 * @example Hex, and a trailing space
 * ```ts
 * import { parseSystemdInt } from "./environment.ts";
 * parseSystemdInt(" 0x10"); // 16
 * parseSystemdInt("3 "); // undefined
 * ```
 */
export function parseSystemdInt(text: string): number | undefined {
  const plain = plainDecimal(text);
  if (plain !== undefined) return plain;
  const scan = scanInteger(text);
  if (!scan.ok) return undefined;
  const value = scan.negative ? -scan.magnitude : scan.magnitude;
  if (value > BigInt(INT_MAX) || value < -BigInt(INT_MAX) - 1n) return undefined;
  return Number(value);
}

/**
 * Parses a number as libsystemd's `safe_atou64()` does (strtoull(3): a
 * leading `-` negates modulo 2^64, but systemd refuses it right after its
 * own white space).
 *
 * @param text The value.
 * @returns The number, or undefined when libsystemd would reject it.
 *
 * @example The largest unsigned 64-bit value
 * ```ts
 * import { parseSystemdU64 } from "./environment.ts";
 * parseSystemdU64("18446744073709551615"); // 18446744073709551615n
 * ```
 */
export function parseSystemdU64(text: string): bigint | undefined {
  const plain = plainDecimal(text);
  if (plain !== undefined) return BigInt(plain);
  const scan = scanInteger(text);
  if (!scan.ok || scan.magnitude >= U64) return undefined;
  if (scan.magnitude !== 0n && scan.afterPrefix.startsWith("-")) return undefined;
  return scan.negative ? (U64 - scan.magnitude) % U64 : scan.magnitude;
}

/**
 * Parses a pid as libsystemd's `parse_pid()` does.
 *
 * @param text The value.
 * @returns The pid (positive), or undefined when libsystemd would reject it.
 *
 * @example A sign is allowed, zero is not
 * ```ts
 * import { parseSystemdPid } from "./environment.ts";
 * parseSystemdPid("+42"); // 42
 * parseSystemdPid("0"); // undefined
 * ```
 */
export function parseSystemdPid(text: string): number | undefined {
  const plain = plainDecimal(text);
  if (plain !== undefined) return plain;
  const value = parseSystemdU64(text);
  if (value === undefined) return undefined;
  // (pid_t) ul must round-trip, and pid_is_valid() wants it positive.
  return value >= 1n && value <= BigInt(INT_MAX) ? Number(value) : undefined;
}

/**
 * Splits `LISTEN_FDNAMES` as libsystemd does: at every `:`, empty fields
 * kept (`a::b` is three names, `""` is one empty name), a backslash takes
 * the next character as it is (`a\:b` is one name), a trailing backslash is
 * an error.
 *
 * @param text The value of `LISTEN_FDNAMES`.
 * @returns The names.
 * @throws {HandoverError} `EINVAL` for a trailing backslash.
 *
 * @example Empty fields are kept
 * ```ts
 * import { splitFdNames } from "./environment.ts";
 * splitFdNames("web::admin"); // ["web", "", "admin"]
 * ```
 */
export function splitFdNames(text: string): string[] {
  if (!text.includes("\\")) return text.split(":");
  const names: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\") {
      if (i + 1 >= text.length) {
        throw new HandoverError(
          "EINVAL",
          `LISTEN_FDNAMES is ${JSON.stringify(text)}, which ends in a backslash that escapes nothing`,
        );
      }
      current += text[++i];
    } else if (c === ":") {
      names.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  names.push(current);
  return names;
}

function invalid(variable: string, value: string, expected: string): HandoverError {
  return new HandoverError("EINVAL", `${variable} is ${JSON.stringify(value)}, expected ${expected}`);
}

/**
 * Reads the activation variables the way `sd_listen_fds_with_names()` does,
 * in its order: names first, then whether they are for this process
 * (`LISTEN_PID`, then `LISTEN_PIDFDID`), then the count. Whether the fds are
 * open, and whether the names match the count, is checked afterwards by the
 * caller ({@link matchFdNames}), as libsystemd does.
 *
 * @param env The variables.
 * @param options This process's pid, lenient mode, the pidfd inode.
 * @returns Whether the fds are for this process, and which.
 * @throws {HandoverError} `EINVAL` naming the variable and its value when one is malformed.
 *
 * @example The variables of a named two-fd activation
 * ```ts
 * import { parseListenEnvironment } from "./environment.ts";
 * parseListenEnvironment({ LISTEN_PID: "42", LISTEN_FDS: "2", LISTEN_FDNAMES: "web:admin" }, { pid: 42 });
 * // { addressed: true, first: 3, count: 2, names: ["web", "admin"] }
 * ```
 */
export function parseListenEnvironment(env: ListenEnvironment, options: ParseListenOptions): ListenEnvironmentResult {
  const names = env.LISTEN_FDNAMES === undefined ? undefined : splitFdNames(env.LISTEN_FDNAMES);

  const pidText = env.LISTEN_PID;
  if (pidText === undefined) {
    if (!options.lenient) {
      return { addressed: false, reason: "LISTEN_PID is not set" };
    }
  } else {
    const pid = parseSystemdPid(pidText);
    if (pid === undefined) throw invalid("LISTEN_PID", pidText, "a process id");
    if (pid !== options.pid) {
      return { addressed: false, reason: `LISTEN_PID is ${pid}, not this process (${options.pid})` };
    }
  }

  const pidfdText = env.LISTEN_PIDFDID;
  if (pidfdText !== undefined) {
    const pidfdId = parseSystemdU64(pidfdText);
    if (pidfdId === undefined) throw invalid("LISTEN_PIDFDID", pidfdText, "a pidfd inode number");
    const own = options.ownPidfdId?.();
    if (own !== undefined && own !== pidfdId) {
      return {
        addressed: false,
        reason: `LISTEN_PIDFDID is ${pidfdId}, not the pidfd of this process (${own}): the pid was reused`,
      };
    }
  }

  const countText = env.LISTEN_FDS;
  if (countText === undefined) return { addressed: false, reason: "LISTEN_FDS is not set" };

  let first = LISTEN_FDS_START;
  const firstText = env.LISTEN_FDS_FIRST_FD;
  if (options.lenient && firstText !== undefined) {
    const parsed = parseSystemdInt(firstText);
    if (parsed === undefined || parsed < LISTEN_FDS_START) {
      throw invalid(FIRST_FD_VARIABLE, firstText, `an fd number of ${LISTEN_FDS_START} or more`);
    }
    first = parsed;
  }

  const count = parseSystemdInt(countText);
  if (count === undefined) throw invalid("LISTEN_FDS", countText, "a number of fds");
  if (count <= 0) throw invalid("LISTEN_FDS", countText, "at least 1 fd");
  if (count > INT_MAX - first) {
    throw invalid("LISTEN_FDS", countText, `at most ${INT_MAX - first} fds from fd ${first}`);
  }
  return { addressed: true, first, count, names };
}

/**
 * The name of each fd: the names of `LISTEN_FDNAMES`, or `unknown` for
 * every fd when it was not set.
 *
 * @param count How many fds (`LISTEN_FDS`).
 * @param names The split `LISTEN_FDNAMES`, or undefined.
 * @returns One name per fd.
 * @throws {HandoverError} `EINVAL` when the counts differ.
 *
 * @example No LISTEN_FDNAMES
 * ```ts
 * import { matchFdNames } from "./environment.ts";
 * matchFdNames(2, undefined); // ["unknown", "unknown"]
 * ```
 */
export function matchFdNames(count: number, names: readonly string[] | undefined): string[] {
  if (names === undefined) return new Array<string>(count).fill("unknown");
  if (names.length !== count) {
    throw new HandoverError(
      "EINVAL",
      `LISTEN_FDNAMES has ${names.length} name${names.length === 1 ? "" : "s"} but LISTEN_FDS is ${count}`,
    );
  }
  return [...names];
}
