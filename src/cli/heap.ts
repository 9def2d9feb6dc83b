/**
 * Gives the launcher's memory back once its apps have settled. Starting an
 * app allocates (a child process, its pipes, the `/proc` reads that find
 * its processes), and V8 grows its young generation under that: in Node from
 * 1 to 4 MiB, which it keeps while the launcher then sits idle for hours,
 * since an idle process allocates too little to collect again. One full
 * collection a while after the last start, stop or exit returns it. And in
 * Node the launcher does without V8's optimising compiler. Only the
 * `handover` command does this, not the `Launcher` API, which runs inside
 * someone else's process.
 *
 * @module
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Launcher } from "./launcher.ts";

/**
 * Tells Node's V8 to compile no optimised code from now on (`--no-opt --no-maglev`). Its optimising compilers
 * (TurboFan, and Maglev from Node 22) are megabytes of the `node` binary, which a launcher would page in for the
 * few functions that its once-a-second looks at `/proc` make hot: 3.7 MiB of resident memory. The launcher stays as
 * fast as it needs to be: relaying an app's output (`handover up`) costs about a quarter more CPU, under half a
 * microsecond more a line. Nothing in Bun and Deno.
 *
 * @returns Whether it was set.
 *
 * @example
 * ```ts ignore
 * leanCompiler(); // in the handover command, never in a library: it holds for the whole process
 * ```
 */
export function leanCompiler(): boolean {
  if ("Bun" in globalThis || "Deno" in globalThis) return false;
  try {
    setFlagsFromString("--no-opt --no-maglev");
    return true;
  } catch {
    return false;
  }
}

/** How long after an app's last start, readiness, stop or exit the launcher collects. */
export const SETTLE_MS = 2_000;

/**
 * A full collection, which also shrinks the young generation when little was allocated in the seconds before.
 *
 * @returns The collection in this runtime (Node: V8's `gc()`; Bun: `Bun.gc(true)`), or undefined (Deno).
 *
 * @example
 * ```ts
 * import { fullCollection } from "./heap.ts";
 * fullCollection()?.(); // a collection, where the runtime has one
 * ```
 */
export function fullCollection(): (() => void) | undefined {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  if ("Deno" in globalThis) return undefined;
  try {
    // Node: the flag applies to contexts made after it is set; a new context hands out its gc().
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? gc as () => void : undefined;
  } catch {
    return undefined;
  }
}

/**
 * V8 shrinks its young generation at a full collection only when the allocation of the seconds before was low: the
 * first collection still counts the apps' start, the second, {@link QUIET_MS} later, sees the quiet.
 */
export const COLLECTIONS = 3;
/** The time between the collections. */
export const QUIET_MS = 2_000;

/** The events after which the launcher settles. */
const SETTLING_EVENTS = ["start", "ready", "exit", "idle", "stop"] as const;

/**
 * Collects once, {@link SETTLE_MS} after the launcher's last app start, readiness, stop or exit (and once after
 * now, for the apps that wait for their first connection).
 *
 * @param launcher The launcher.
 * @param collect The collection ({@link fullCollection}); nothing is done without one.
 * @param settleMs How long after the last event the first collection comes.
 * @param quietMs The time between the collections.
 * @returns A function that stops it.
 *
 * @example
 * ```ts
 * import { Launcher } from "../../launcher.ts";
 * import { collectWhenSettled } from "./heap.ts";
 * let collections = 0;
 * const stop = collectWhenSettled(new Launcher(), () => collections++);
 * stop(); // before the first collection: collections stays 0
 * ```
 */
export function collectWhenSettled(
  launcher: Launcher,
  collect: (() => void) | undefined = fullCollection(),
  settleMs: number = SETTLE_MS,
  quietMs: number = QUIET_MS,
): () => void {
  if (collect === undefined) return () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    let round = 0;
    const next = (): void => {
      timer = setTimeout(() => {
        timer = undefined;
        collect();
        if (++round < COLLECTIONS) next();
      }, round === 0 ? settleMs : quietMs);
      // Never what keeps the launcher running.
      (timer as { unref?: () => void }).unref?.();
    };
    next();
  };
  for (const event of SETTLING_EVENTS) launcher.on(event, schedule);
  schedule();
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const event of SETTLING_EVENTS) launcher.off(event, schedule);
  };
}
