/**
 * Readiness without app code: an instance is ready to take connections once
 * its event loop waits on the listening sockets — an epoll instance of one of
 * its processes lists their inodes in `/proc/<pid>/fdinfo` (fs/eventpoll.c).
 * The launcher uses this for apps that do not send `READY=1`.
 *
 * @module
 */

import { readdirSync, readlinkSync } from "node:fs";
import { readProcFile } from "./proc.ts";
import { parseEpollFdinfo } from "../serve/transplant.ts";

/**
 * The socket inodes that epoll instances of these processes wait on.
 *
 * @param pids The processes (another user's, or gone, are passed over).
 * @returns The inodes.
 *
 * @example This process, which waits on no socket yet
 * ```ts
 * import { watchedInodes } from "./readiness.ts";
 * watchedInodes([Deno.pid]) instanceof Set; // true
 * ```
 */
export function watchedInodes(pids: readonly number[]): Set<bigint> {
  const watched = new Set<bigint>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== "anon_inode:[eventpoll]") continue;
        for (const entry of parseEpollFdinfo(readProcFile(`/proc/${pid}/fdinfo/${fd}`))) {
          watched.add(entry.inode);
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return watched;
}
