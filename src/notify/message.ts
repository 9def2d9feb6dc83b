/**
 * Building and validating `sd_notify` messages. systemd drops a message it
 * does not like without telling the sender (a datagram above 4096 bytes is
 * truncated and ignored, an invalid `FDNAME=` is ignored with a log line), so
 * every message is checked here before anything is sent.
 *
 * @module
 */

import { MAX_FDS_PER_MESSAGE } from "../fd/rights.ts";

/** The largest message systemd reads (`NOTIFY_BUFFER_MAX`, src/core/manager.c). */
export const MAX_NOTIFY_BYTES = 4096;

/** The longest name `FDNAME=` takes (`FDNAME_MAX`, src/basic/fd-util.h). */
export const MAX_FDNAME_LENGTH = 255;

/**
 * A notification with readable keys; each is built into its `KEY=VALUE`
 * line. `undefined` (and `false`, for flags) leaves a key out. See
 * sd_notify(3) for what each one means to systemd.
 */
export interface NotifyState {
  /** `READY=1`: startup (or a reload) is finished. */
  readonly ready?: boolean;
  /** `RELOADING=1`: a reload began; send {@link NotifyState.monotonicUsec} with it (see `reloading()`). */
  readonly reloading?: boolean;
  /** `STOPPING=1`: shutdown began. */
  readonly stopping?: boolean;
  /** `MONOTONIC_USEC=`: `CLOCK_MONOTONIC` in microseconds, required with `RELOADING=1` by `Type=notify-reload`. */
  readonly monotonicUsec?: number | bigint;
  /** `STATUS=`: one line for `systemctl status`. */
  readonly status?: string;
  /** `NOTIFYACCESS=`: change the unit's `NotifyAccess=` (systemd 254+). */
  readonly notifyAccess?: "none" | "main" | "exec" | "all";
  /** `ERRNO=`: the errno the service failed with. */
  readonly errno?: number;
  /** `BUSERROR=`: the D-Bus error name the service failed with. */
  readonly busError?: string;
  /** `EXIT_STATUS=`: the exit status the service will end with (systemd 254+). */
  readonly exitStatus?: number;
  /** `MAINPID=`: the main process is now this one. */
  readonly mainPid?: number;
  /** `WATCHDOG=1` (`true`), or `WATCHDOG=trigger` to make the watchdog fire now. */
  readonly watchdog?: true | "trigger";
  /** `WATCHDOG_USEC=`: a new watchdog timeout, in microseconds. */
  readonly watchdogUsec?: number | bigint;
  /** `EXTEND_TIMEOUT_USEC=`: extend the current start, stop or reload timeout by this many microseconds. */
  readonly extendTimeoutUsec?: number | bigint;
  /** `FDSTORE=1`: keep the fds sent with this message in the service's fd store. */
  readonly fdStore?: boolean;
  /** `FDSTOREREMOVE=1`: drop the stored fds named {@link NotifyState.fdName}. */
  readonly fdStoreRemove?: boolean;
  /** `FDNAME=`: the name of the stored fds (at most 255 printable ASCII characters, no `:`). */
  readonly fdName?: string;
  /** `FDPOLL=0` when false: do not watch the stored fds for errors and hang-ups. */
  readonly fdPoll?: boolean;
  /** `BARRIER=1`: send with the write end of a pipe (see `barrier()`). */
  readonly barrier?: boolean;
}

type FieldKind = "flag" | "noPoll" | "line" | "uint" | "positive" | "pid" | "access" | "watchdog" | "fdname";

// The order lines are built in: state changes first, then what they carry.
const FIELDS: readonly (readonly [keyof NotifyState, string, FieldKind])[] = [
  ["ready", "READY", "flag"],
  ["reloading", "RELOADING", "flag"],
  ["stopping", "STOPPING", "flag"],
  ["monotonicUsec", "MONOTONIC_USEC", "uint"],
  ["status", "STATUS", "line"],
  ["notifyAccess", "NOTIFYACCESS", "access"],
  ["errno", "ERRNO", "uint"],
  ["busError", "BUSERROR", "line"],
  ["exitStatus", "EXIT_STATUS", "uint"],
  ["mainPid", "MAINPID", "pid"],
  ["watchdog", "WATCHDOG", "watchdog"],
  ["watchdogUsec", "WATCHDOG_USEC", "positive"],
  ["extendTimeoutUsec", "EXTEND_TIMEOUT_USEC", "positive"],
  ["fdStore", "FDSTORE", "flag"],
  ["fdStoreRemove", "FDSTOREREMOVE", "flag"],
  ["fdName", "FDNAME", "fdname"],
  ["fdPoll", "FDPOLL", "noPoll"],
  ["barrier", "BARRIER", "flag"],
];
const KNOWN_KEYS: ReadonlySet<string> = new Set(FIELDS.map(([key]) => key));

function integerText(key: string, value: unknown, minimum: bigint, maximum: bigint): string {
  let n: bigint;
  if (typeof value === "bigint") n = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) n = BigInt(value);
  else throw new TypeError(`Expected ${key} to be an integer, got ${String(value)}`);
  if (n < minimum || n > maximum) {
    throw new RangeError(`Expected ${key} to be from ${minimum} to ${maximum}, got ${n}`);
  }
  return n.toString();
}

const UINT64_MAX = (1n << 64n) - 1n;
const INT32_MAX = 2147483647n;

/**
 * Throws unless `name` is a name systemd accepts in `FDNAME=` (and in
 * `LISTEN_FDNAMES`): at most 255 printable ASCII characters, without `:`
 * (`fdname_is_valid()`, src/basic/fd-util.c).
 *
 * @param name The name.
 * @throws {TypeError} When it is not a string or has a character systemd refuses.
 * @throws {RangeError} When it is longer than 255 characters.
 *
 * @example
 * ```ts
 * import { assertFdName } from "./message.ts";
 * assertFdName("web"); // fine
 * ```
 */
export function assertFdName(name: unknown): asserts name is string {
  if (typeof name !== "string") throw new TypeError(`Expected the fd name to be a string, got ${typeof name}`);
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x3a) {
      const shown = code === 0x3a ? '":"' : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
      throw new TypeError(
        `Expected an fd name of printable ASCII characters without ":", got ${shown} at index ${i} of ${
          JSON.stringify(name)
        }`,
      );
    }
  }
  if (name.length > MAX_FDNAME_LENGTH) {
    throw new RangeError(`Expected an fd name of at most ${MAX_FDNAME_LENGTH} characters, got ${name.length}`);
  }
}

function fieldText(key: keyof NotifyState, kind: FieldKind, value: unknown): string | undefined {
  switch (kind) {
    case "flag":
      if (typeof value !== "boolean") throw new TypeError(`Expected ${key} to be a boolean, got ${typeof value}`);
      return value ? "1" : undefined;
    case "noPoll":
      if (typeof value !== "boolean") throw new TypeError(`Expected ${key} to be a boolean, got ${typeof value}`);
      return value ? undefined : "0";
    case "line":
      if (typeof value !== "string") throw new TypeError(`Expected ${key} to be a string, got ${typeof value}`);
      if (/[\n\r]/.test(value)) {
        throw new TypeError(`Expected ${key} to be one line, got a line break in ${JSON.stringify(value)}`);
      }
      return value;
    case "uint":
      return integerText(key, value, 0n, UINT64_MAX);
    case "positive":
      return integerText(key, value, 1n, UINT64_MAX - 1n);
    case "pid":
      return integerText(key, value, 1n, INT32_MAX);
    case "access":
      if (value !== "none" && value !== "main" && value !== "exec" && value !== "all") {
        throw new TypeError(`Expected ${key} to be "none", "main", "exec" or "all", got ${JSON.stringify(value)}`);
      }
      return value;
    case "watchdog":
      if (value !== true && value !== "trigger") {
        throw new TypeError(`Expected ${key} to be true or "trigger", got ${JSON.stringify(value)}`);
      }
      return value === true ? "1" : "trigger";
    case "fdname":
      assertFdName(value);
      return value;
  }
}

/**
 * Builds the text of a typed notification: one `KEY=VALUE` line per key,
 * joined by newlines, in a fixed order (state changes first).
 *
 * @param state The notification.
 * @returns The message text.
 * @throws {TypeError} For an unknown key, a value of the wrong type, a
 * `status` with a line break or an invalid `fdName`.
 * @throws {RangeError} For a number out of range.
 *
 * @example Ready, with a status line
 * ```ts
 * import { formatNotifyState } from "./message.ts";
 * formatNotifyState({ ready: true, status: "Serving on :8080" }); // "READY=1\nSTATUS=Serving on :8080"
 * ```
 */
export function formatNotifyState(state: NotifyState): string {
  if (state === null || typeof state !== "object" || Array.isArray(state)) {
    throw new TypeError(`Expected a notify state object or a KEY=VALUE string, got ${typeof state}`);
  }
  for (const key of Object.keys(state)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new TypeError(`Unknown notify key ${JSON.stringify(key)}; expected one of ${[...KNOWN_KEYS].join(", ")}`);
    }
  }
  const lines: string[] = [];
  for (const [key, name, kind] of FIELDS) {
    const value = state[key];
    if (value === undefined) continue;
    const text = fieldText(key, kind, value);
    if (text !== undefined) lines.push(`${name}=${text}`);
  }
  return lines.join("\n");
}

const encoder = new TextEncoder();

/**
 * Checks a message the way systemd would read it and encodes it: at most
 * 4096 bytes of UTF-8, no NUL byte, every non-empty line `KEY=VALUE`, a valid
 * name in `FDNAME=`, at most 253 fds.
 *
 * @param text The message.
 * @param fdCount How many fds go with it.
 * @returns Its UTF-8 bytes, exactly as they will be sent.
 * @throws {TypeError} For a NUL byte, a line that is not `KEY=VALUE` or an invalid `FDNAME=`.
 * @throws {RangeError} Above 4096 bytes or 253 fds.
 *
 * @example
 * ```ts
 * import { encodeNotifyMessage } from "./message.ts";
 * encodeNotifyMessage("READY=1", 0).byteLength; // 7
 * ```
 */
export function encodeNotifyMessage(text: string, fdCount: number): Uint8Array {
  if (typeof text !== "string") throw new TypeError(`Expected the notify message to be a string, got ${typeof text}`);
  if (fdCount > MAX_FDS_PER_MESSAGE) {
    throw new RangeError(`Expected at most ${MAX_FDS_PER_MESSAGE} fds in one notify message, got ${fdCount}`);
  }
  const bytes = encoder.encode(text);
  if (bytes.byteLength > MAX_NOTIFY_BYTES) {
    throw new RangeError(`Expected a notify message of at most ${MAX_NOTIFY_BYTES} bytes, got ${bytes.byteLength}`);
  }
  const nul = text.indexOf("\0");
  if (nul >= 0) throw new TypeError(`Expected a notify message without NUL bytes, got one at index ${nul}`);
  let start = 0;
  let lineNumber = 1;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    if (end > start) {
      const equals = text.indexOf("=", start);
      if (equals <= start || equals >= end) {
        throw new TypeError(
          `Expected KEY=VALUE lines in a notify message, got ${
            JSON.stringify(text.slice(start, end))
          } on line ${lineNumber}`,
        );
      }
      if (equals - start === 6 && text.startsWith("FDNAME", start)) assertFdName(text.slice(equals + 1, end));
    }
    start = end + 1;
    lineNumber++;
  }
  return bytes;
}
