/**
 * The launcher's fd store: fds the app hands over with `FDSTORE=1` are kept
 * across restarts and passed back on the next start after the listening
 * sockets, named by `FDNAME=` (default `stored`), as systemd does with
 * `FileDescriptorStoreMax=` (src/core/service.c, `service_add_fd_store()`).
 *
 * @module
 */

import { close } from "../fd/fd.ts";
import { statFd } from "../fd/inspect.ts";
import { encodePollfds, pollRevents } from "../sys/poll.ts";
import { system } from "../ffi/system.ts";

/** One stored fd. */
export interface StoredFd {
  readonly fd: number;
  readonly name: string;
  /** False when the app sent `FDPOLL=0`: keep it even after a hang-up. */
  readonly poll: boolean;
  readonly inode: bigint;
  readonly mode: number;
}

/** What happened to fds offered to the store. */
export interface StoreResult {
  readonly kept: number;
  /** Already in the store (same object), closed. */
  readonly duplicates: number;
  /** Over the limit, closed. */
  readonly refused: number;
}

/** The fd store. */
export class FdStore {
  /** The most fds kept (`--fdstore N`); 0 turns the store off. */
  readonly max: number;
  private readonly entries: StoredFd[] = [];

  /**
   * Creates an empty store.
   *
   * @param max The most fds to keep.
   */
  constructor(max: number) {
    this.max = max;
  }

  /** The stored fds, in the order they were added. */
  get fds(): readonly StoredFd[] {
    return this.entries;
  }

  /**
   * Takes ownership of `fds`: keeps each one that is new, closes the rest.
   *
   * @param fds The fds received with `FDSTORE=1`.
   * @param name Their `FDNAME=`.
   * @param poll False for `FDPOLL=0`.
   * @returns How many were kept, were duplicates, or were refused.
   *
   * @example A store of one keeps the first fd and closes the second
   * ```ts
   * import { socketpair } from "../../mod.ts";
   * import { FdStore } from "./fdstore.ts";
   * const store = new FdStore(1);
   * store.add(socketpair(), "state", true); // { kept: 1, duplicates: 0, refused: 1 }
   * store.fds.map((s) => s.name); // ["state"]
   * store.clear();
   * ```
   */
  add(fds: readonly number[], name: string, poll: boolean): StoreResult {
    let kept = 0, duplicates = 0, refused = 0;
    for (const fd of fds) {
      let stat: { mode: number; ino: bigint };
      try {
        stat = statFd(fd);
      } catch {
        refused++;
        continue;
      }
      // systemd compares with same_fd(); the inode and file type tell the same object apart well enough here.
      if (this.entries.some((e) => e.inode === stat.ino && e.mode === stat.mode)) {
        close(fd);
        duplicates++;
      } else if (this.entries.length >= this.max) {
        close(fd);
        refused++;
      } else {
        this.entries.push({ fd, name, poll, inode: stat.ino, mode: stat.mode });
        kept++;
      }
    }
    return { kept, duplicates, refused };
  }

  /**
   * Removes and closes every fd stored under `name` (`FDSTOREREMOVE=1`).
   *
   * @param name The `FDNAME=`.
   * @returns How many were removed.
   *
   * @example
   * ```ts
   * import { socketpair } from "../../mod.ts";
   * import { FdStore } from "./fdstore.ts";
   * const store = new FdStore(4);
   * store.add(socketpair(), "state", true);
   * store.remove("state"); // 2: both ends closed
   * ```
   */
  remove(name: string): number {
    let removed = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i]!.name !== name) continue;
      close(this.entries[i]!.fd);
      this.entries.splice(i, 1);
      removed++;
    }
    return removed;
  }

  /**
   * Drops fds whose other end hung up or that are in error (unless stored
   * with `FDPOLL=0`), as systemd does by watching them.
   *
   * @returns The names of the dropped fds.
   *
   * @example
   * ```ts
   * import { close, socketpair } from "../../mod.ts";
   * import { FdStore } from "./fdstore.ts";
   * const store = new FdStore(4);
   * const [a, b] = socketpair();
   * store.add([a], "conn", true);
   * close(b); // the peer hangs up
   * store.prune(); // ["conn"]
   * ```
   */
  prune(): string[] {
    const { libc, c, layout } = system();
    const watched = this.entries.filter((e) => e.poll);
    if (watched.length === 0) return [];
    const pollfds = encodePollfds(layout, watched.map((e) => ({ fd: e.fd, events: 0 })));
    if (libc.poll(pollfds, watched.length, 0) <= 0) return [];
    const dropped: string[] = [];
    watched.forEach((entry, i) => {
      if ((pollRevents(layout, pollfds, i) & (c.POLLHUP | c.POLLERR)) === 0) return;
      close(entry.fd);
      this.entries.splice(this.entries.indexOf(entry), 1);
      dropped.push(entry.name);
    });
    return dropped;
  }

  /**
   * Closes every stored fd.
   *
   * @example
   * ```ts
   * import { socketpair } from "../../mod.ts";
   * import { FdStore } from "./fdstore.ts";
   * const store = new FdStore(4);
   * store.add(socketpair(), "state", true);
   * store.clear();
   * store.fds.length; // 0
   * ```
   */
  clear(): void {
    for (const entry of this.entries.splice(0)) {
      try {
        close(entry.fd);
      } catch {
        // closed already
      }
    }
  }
}
