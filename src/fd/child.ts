/**
 * Handing fds to child processes at chosen fd numbers.
 *
 * @module
 */

import { assertFd } from "./fd.ts";

/** What a child's stdin, stdout and stderr are, as `node:child_process` takes them. */
export type StdioValue = "inherit" | "pipe" | "ignore" | number;

/**
 * Builds the `stdio` array for `node:child_process` `spawn()` (which works in
 * Node, Deno and Bun) or `Bun.spawn()` so that the child finds each given fd
 * at the chosen number. The runtime dup2()s them in the child, which also
 * clears close-on-exec there, so close-on-exec fds (the default of
 * {@link socketpair}) can be handed over as they are.
 *
 * @param fds The fds to hand over, by the number the child should see (3 or more).
 * @param stdio What fds 0, 1 and 2 are (default: inherit all three).
 * @returns The stdio array; gaps are `"ignore"`.
 * @throws {RangeError} When a target number is below 3 or above 1023.
 *
 * @example The child gets our pair end at fd 3
 * ```ts
 * import { spawn } from "node:child_process";
 * import { once } from "node:events";
 * import { childStdio, close, socketpair } from "../../mod.ts";
 *
 * const [mine, theirs] = socketpair();
 * childStdio({ 3: theirs }); // ["inherit", "inherit", "inherit", theirs]
 * const child = spawn("sh", ["-c", "test -S /dev/fd/3"], { stdio: childStdio({ 3: theirs }) });
 * close(theirs); // the child has its own copy
 * await once(child, "exit"); // [0, null]: the child found a socket at fd 3
 * close(mine);
 * ```
 */
export function childStdio(
  fds: Readonly<Record<number, number>>,
  stdio: readonly [StdioValue, StdioValue, StdioValue] = ["inherit", "inherit", "inherit"],
): StdioValue[] {
  const result: StdioValue[] = [...stdio];
  for (const [key, fd] of Object.entries(fds)) {
    const target = Number(key);
    if (!Number.isInteger(target) || target < 3 || target > 1023) {
      throw new RangeError(`Expected child fd numbers from 3 to 1023, got ${key}`);
    }
    assertFd(fd, `the fd for child fd ${target}`);
    while (result.length < target) result.push("ignore");
    result[target] = fd;
  }
  return result;
}
