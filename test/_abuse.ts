// Helpers of the hostile-input table (test/abuse.test.ts): the launcher in
// the runtime under test, bounded waits, process liveness, HTTP on loopback.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, run, runtimeArgv, sleep } from "./_helpers.ts";
import { CLI } from "./_launcher.ts";

/** The arguments of `run()` for the launcher with `args`. */
export function cli(
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Parameters<typeof run> {
  const [command, argv] = runtimeArgv(CLI);
  return [command, [...argv, ...args], {
    env: { ...process.env, ...options.env },
    timeoutMs: options.timeoutMs ?? 60_000,
    cwd: options.cwd ?? ROOT,
  }];
}

/** A fresh directory under the system's temporary directory. */
export function scratch(): string {
  return mkdtempSync(join(tmpdir(), "handover-abuse-"));
}

/** Waits until `condition()` holds, polling every 20 ms; throws after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000; i++) {
    if (await condition()) return;
    if (Date.now() > deadline) break;
    await sleep(20);
  }
  throw new assert.AssertionError({ message: `timed out after ${timeoutMs} ms waiting for ${what}` });
}

/** Whether a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Sends SIGKILL to a process this test started, if it is still there. */
export function killIfAlive(pid: number | undefined): void {
  if (pid === undefined || !alive(pid)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone meanwhile
  }
}
