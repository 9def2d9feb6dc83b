/**
 * The guard: a small shell that outlives the launcher only to end the app.
 * A launcher killed with SIGKILL cannot stop anything, and the app (in a
 * session of its own) would keep serving, holding the port. So the launcher
 * starts `/bin/sh` reading a socket whose other end only the launcher holds,
 * and tells it, line by line, what to end: the process group of each running
 * instance (`-PGID`) and the pids of its escaped orphans. When the launcher
 * dies, for whatever reason, the kernel closes that end; the guard reads
 * end-of-file and signals the last list it was given: SIGTERM and SIGCONT,
 * then SIGKILL to whatever is left after the stop timeout. A launcher that
 * ends normally sends an empty list first, so the guard just exits. This is
 * what a parent-death signal (prctl(2) `PR_SET_PDEATHSIG`) would do, but for
 * the whole process group, and with nothing more than `/bin/sh` on any Unix.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { close, setNonBlocking } from "../fd/fd.ts";
import { socketpair } from "../fd/socketpair.ts";
import { system } from "../ffi/system.ts";

// dash's kill takes negative pids after the signal, without "--".
const SCRIPT = `trap '' INT TERM HUP QUIT PIPE
t=
while IFS= read -r line; do t=$line; done
[ -n "$t" ] || exit 0
kill -TERM $t 2>/dev/null
kill -CONT $t 2>/dev/null
alive() { for p in $t; do kill -0 $p 2>/dev/null && return 0; done; return 1; }
i=0
while [ "$i" -lt "$1" ] && alive; do sleep 0.1; i=$((i + 1)); done
kill -KILL $t 2>/dev/null
exit 0`;

/** The guard process and the launcher's end of its socket. */
export class Guard {
  private readonly fd: number;
  private readonly child: ChildProcess;
  private last = "";
  private closed = false;

  private constructor(fd: number, child: ChildProcess) {
    this.fd = fd;
    this.child = child;
  }

  /**
   * Starts the guard.
   *
   * @param stopTimeoutMs How long the app gets after SIGTERM before SIGKILL once the launcher is gone.
   * @returns The guard, or undefined when it cannot be started (the launcher then runs without one).
   *
   * @example
   * ```ts ignore
   * const guard = Guard.start(10_000);
   * ```
   */
  static start(stopTimeoutMs: number): Guard | undefined {
    let pair: [number, number];
    try {
      // The guard's end blocks (sh reads it); ours must never block the launcher.
      pair = socketpair("stream", { nonBlocking: false });
      setNonBlocking(pair[0], true);
    } catch {
      return undefined;
    }
    const [mine, theirs] = pair;
    let child: ChildProcess;
    try {
      const tenths = String(Math.max(1, Math.ceil(stopTimeoutMs / 100)));
      child = spawn("/bin/sh", ["-c", SCRIPT, "handover-guard", tenths], {
        stdio: [theirs, "ignore", "ignore"],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      });
    } catch {
      close(mine);
      close(theirs);
      return undefined;
    }
    close(theirs);
    child.on("error", () => {});
    child.unref();
    if (child.pid === undefined) {
      close(mine);
      return undefined;
    }
    return new Guard(mine, child);
  }

  /** The guard's pid: a child of the launcher that the runtime waits for. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Tells the guard what to end if the launcher dies now.
   *
   * @param groups Process groups (each instance's main pid).
   * @param pids Single processes outside those groups.
   *
   * @example
   * ```ts ignore
   * guard.watch([app.pid], [...app.orphans]);
   * ```
   */
  watch(groups: Iterable<number>, pids: Iterable<number>): void {
    const line = [...[...groups].map((g) => `-${g}`), ...pids].join(" ");
    if (this.closed || line === this.last) return;
    this.last = line;
    this.send(`${line}\n`);
  }

  private send(text: string): void {
    const { libc, c } = system();
    const bytes = new TextEncoder().encode(text);
    // A few bytes into an empty socket buffer; if the guard is gone (EPIPE) or stuck (EAGAIN), there is nothing to do.
    void libc.sendto(this.fd, bytes, bytes.byteLength, c.MSG_NOSIGNAL | c.MSG_DONTWAIT, null, 0);
  }

  /**
   * Lets the guard go: an empty list, then end-of-file.
   *
   * @example
   * ```ts ignore
   * guard.close();
   * ```
   */
  close(): void {
    if (this.closed) return;
    this.send("\n");
    this.closed = true;
    try {
      close(this.fd);
    } catch {
      // closed already
    }
  }
}
