// handover --workers N: N instances of docs/launcher.md's workers_app.ts on one socket (shared) or a SO_REUSEPORT
// socket each (reuseport); every worker answers, a worker that is stopped or restarted loses no request, and the
// launcher leaks no fd across worker restarts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { it } from "node:test";
import { docBlock, writeDocBlock } from "./_docs.ts";
import { FIXTURES, guarded, ROOT, RUNTIME, runtimeArgv, runtimeOwned, sleep } from "./_helpers.ts";
import { Launcher } from "./_launcher.ts";

/** What test/fixtures/http_load.mjs reports, with the answers counted by body. */
interface LoadReport {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  bodies: Record<string, number>;
}

/** Starts the load (system Node) against `port`: 6 clients, half of them keeping a connection alive. */
function startLoad(port: number, durationMs = 120_000): { finish(early?: boolean): Promise<LoadReport> } {
  const clients = [false, false, false, true, true, true].map((keepAlive) => ({ keepAlive }));
  const child = spawn("node", [
    join(FIXTURES, "http_load.mjs"),
    JSON.stringify({ port, durationMs, clients, countBodies: true }),
  ], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => out += d);
  const done = new Promise<void>((resolve) => child.on("close", () => resolve()));
  return {
    async finish(early = true) {
      if (early && child.exitCode === null) process.kill(child.pid!, "SIGINT");
      await done;
      return JSON.parse(out.trim().split("\n").at(-1)!) as LoadReport;
    },
  };
}

/** Answers by worker index, from bodies `worker I pid P`. */
function byWorker(bodies: Record<string, number>): Map<number, { pids: Set<number>; answers: number }> {
  const workers = new Map<number, { pids: Set<number>; answers: number }>();
  for (const [body, count] of Object.entries(bodies)) {
    const match = /^worker (\d+) pid (\d+)\n$/.exec(body);
    assert.ok(match, `unexpected body ${JSON.stringify(body)}`);
    const entry = workers.get(Number(match[1])) ?? { pids: new Set(), answers: 0 };
    entry.pids.add(Number(match[2]));
    entry.answers += count;
    workers.set(Number(match[1]), entry);
  }
  return workers;
}

const scratch = (label: string): string => join(ROOT, "test", ".tmp", `workers-${label}-${process.pid}`);

/** Runs docs/launcher.md's workers_app.ts under `handover --workers N` until `body` is done with it. */
async function withWorkers(
  label: string,
  args: readonly string[],
  body: (launcher: Launcher, port: number, count: number) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const dir = scratch(label);
  try {
    const app = writeDocBlock(dir, "workers_app.ts", docBlock("docs/launcher.md", "workers_app.ts"));
    const [command, argv] = runtimeArgv(app);
    const count = Number(args[args.indexOf("--workers") + 1]);
    const launcher = new Launcher([...args, "-s", "web=http::0", "--", command, ...argv], env, 240_000);
    try {
      const port = await launcher.port();
      await launcher.waitFor(/^~> worker \d+: pid \d+ is ready/, count, 60_000);
      await body(launcher, port, count);
    } finally {
      const { code } = await launcher.stop();
      assert.equal(code, 0, launcher.stderr);
      assert.equal(launcher.count(/exited with code 0$/), launcher.count(/started pid/), launcher.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The pid the launcher started last for worker `index`. */
function workerPid(launcher: Launcher, index: number): number {
  const pids = [...launcher.stderr.matchAll(new RegExp(`^~> worker ${index}: started pid (\\d+)`, "gm"))];
  return Number(pids.at(-1)![1]);
}

for (const mode of ["shared", "reuseport"] as const) {
  for (const count of [2, 4]) {
    it(
      `${count} workers in ${mode} mode serve on one address, each with its own pid and WORKER_INDEX, and every one answers`,
      guarded(() =>
        withWorkers(
          `${mode}-${count}`,
          ["--workers", String(count), "--workers-mode", mode],
          async (launcher, port) => {
            const lines = launcher.stderr.split("\n").filter((line) => line.startsWith("~> socket "));
            assert.equal(lines.length, mode === "shared" ? 1 : count, launcher.stderr);
            let report: LoadReport | undefined;
            const workers = new Map<number, { pids: Set<number>; answers: number }>();
            // Under load every worker gets connections; bounded to a few rounds of 1 s.
            for (let round = 0; round < 10 && workers.size < count; round++) {
              report = await startLoad(port, 1000).finish(false);
              assert.equal(report.failed, 0, JSON.stringify(report));
              for (const [index, entry] of byWorker(report.bodies)) {
                const seen = workers.get(index) ?? { pids: new Set(), answers: 0 };
                for (const pid of entry.pids) seen.pids.add(pid);
                seen.answers += entry.answers;
                workers.set(index, seen);
              }
            }
            assert.deepEqual(
              [...workers.keys()].sort(),
              Array.from({ length: count }, (_, i) => i),
              JSON.stringify(report),
            );
            for (const [index, entry] of workers) assert.deepEqual([...entry.pids], [workerPid(launcher, index)]);
          },
        )
      ),
    );
  }

  // In Deno this once failed in shared mode: the Deno launcher's spawn() cleared O_NONBLOCK on the shared socket, and
  // the surviving worker blocked in accept(2) with its clients waiting on it (the supervisor's guardNonBlocking()).
  it(
    `in ${mode} mode a worker stopped under load loses no request: it drains, the others serve, and it is started again on its sockets`,
    guarded(() =>
      withWorkers(`kill-${mode}`, ["--workers", "2", "--workers-mode", mode], async (launcher, port) => {
        const load = startLoad(port);
        await sleep(500);
        for (let round = 1; round <= 3; round++) {
          const pid = workerPid(launcher, 0);
          process.kill(pid, "SIGTERM");
          await launcher.waitFor(new RegExp(`^~> worker 0: pid ${pid} exited with code 0$`), 1, 30_000);
          await launcher.waitFor(/^~> worker 0: pid \d+ is ready/, round + 1, 60_000);
          await sleep(300);
        }
        const report = await load.finish();
        assert.equal(report.failed, 0, JSON.stringify(report));
        assert.ok(report.ok > 50, JSON.stringify(report));
        assert.equal(launcher.count(/^~> worker 1: started pid/), 1, launcher.stderr);
      })
    ),
  );

  it(
    `in ${mode} mode a rolling restart of 4 workers under load (SIGHUP, twice) restarts one at a time and loses 0 requests`,
    guarded(() =>
      withWorkers(`rolling-${mode}`, ["--workers", "4", "--workers-mode", mode], async (launcher, port) => {
        const load = startLoad(port);
        await sleep(500);
        for (let round = 1; round <= 2; round++) {
          launcher.signal("SIGHUP");
          await launcher.waitFor(/^~> worker 3: pid \d+ took over/, round, 120_000);
          await sleep(300);
        }
        const report = await load.finish();
        assert.equal(report.failed, 0, JSON.stringify(report));
        assert.ok(report.ok > 50, JSON.stringify(report));
        // One at a time: worker i+1's successor starts only after worker i's took over.
        const order = launcher.stderr.split("\n").filter((line) => /took over|starting a new instance/.test(line))
          .map((line) => /^~> worker (\d+): .*(took over|starting)/.exec(line)!.slice(1).join(" "));
        const expected = [0, 1, 2, 3].flatMap((i) => [`${i} starting`, `${i} took over`]);
        assert.deepEqual(order, [...expected, ...expected], launcher.stderr);
      })
    ),
  );
}

/** The event masks with which a process's epoll instances wait on its listening socket on `port`, from /proc. */
function listenerRegistrations(pid: number, port: number): number[] {
  const inodes = new Set<string>();
  const epolls: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target === "anon_inode:[eventpoll]") epolls.push(fd);
      else if (target.startsWith("socket:[")) inodes.add(target.slice(8, -1));
    } catch {
      // closed meanwhile
    }
  }
  // The listening socket's inode, from /proc/net/tcp (local address 0100007F:PORT, state 0A).
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const listening = readFileSync("/proc/net/tcp", "utf8").split("\n").map((line) => line.trim().split(/\s+/))
    .find((f) => f[1] === `0100007F:${hexPort}` && f[3] === "0A")?.[9];
  assert.ok(listening !== undefined && inodes.has(listening), `no listening socket on port ${port} in pid ${pid}`);
  const masks: number[] = [];
  for (const epfd of epolls) {
    const info = readFileSync(`/proc/${pid}/fdinfo/${epfd}`, "utf8");
    for (const match of info.matchAll(/^tfd:\s*\d+\s+events:\s*([0-9a-f]+).*\bino:([0-9a-f]+)/gm)) {
      if (BigInt(`0x${match[2]}`).toString() === listening) masks.push(parseInt(match[1]!, 16));
    }
  }
  return masks;
}

const EPOLLEXCLUSIVE = 1 << 28;

for (const optOut of [false, true]) {
  // Node's listen({ fd }) registers the socket itself (libuv), without EPOLLEXCLUSIVE; Deno and Bun adopt it.
  const expected = !optOut && RUNTIME !== "node";
  it(
    `in shared mode${optOut ? " with HANDOVER_EPOLLEXCLUSIVE=0" : ""} each worker waits on the shared socket ${
      expected ? "with" : "without"
    } EPOLLEXCLUSIVE`,
    guarded(() =>
      withWorkers(`exclusive-${optOut}`, ["--workers", "2", "--workers-mode", "shared"], (launcher, port) => {
        for (const index of [0, 1]) {
          const masks = listenerRegistrations(workerPid(launcher, index), port);
          assert.ok(masks.length > 0, `worker ${index} does not wait on the socket`);
          for (const mask of masks) assert.equal((mask & EPOLLEXCLUSIVE) !== 0, expected, mask.toString(16));
        }
        return Promise.resolve();
      }, optOut ? { HANDOVER_EPOLLEXCLUSIVE: "0" } : {})
    ),
  );
}

/** The launcher's fds, leaving out those its runtime opens by itself. */
function launcherFds(pid: number): string[] {
  const fds: string[] = [];
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${name}`);
      // What each fd is, not its number or inode: a restart may leave the same fds at other numbers.
      if (!runtimeOwned(target)) fds.push(target.replace(/\[\d+\]$/, ""));
    } catch {
      // closed meanwhile
    }
  }
  return fds.sort();
}

it(
  "the launcher holds as many fds after 50 worker restarts (25 rolling restarts of 2 workers in reuseport mode) as before",
  guarded(() =>
    withWorkers("fds", ["--workers", "2", "--workers-mode", "reuseport"], async (launcher, port) => {
      const pid = launcher.child.pid!;
      await sleep(200);
      const before = launcherFds(pid);
      for (let round = 1; round <= 25; round++) {
        launcher.signal("SIGHUP");
        await launcher.waitFor(/^~> worker 1: pid \d+ took over/, round, 60_000);
      }
      await launcher.waitFor(/^~> worker 1: pid \d+ exited with code 0$/, 25, 30_000);
      assert.equal(launcher.count(/started pid/), 52, launcher.stderr);
      const answer = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
      assert.match(answer, /^worker [01] pid \d+\n$/);
      let after = launcherFds(pid);
      for (let i = 0; i < 50 && after.length !== before.length; i++) {
        await sleep(20);
        after = launcherFds(pid);
      }
      assert.deepEqual(after, before);
    })
  ),
);

it(
  "docs/serving.md's own_workers.ts starts 2 workers on the activated socket itself: both answer, and SIGTERM drains them",
  guarded(async () => {
    const dir = scratch("own");
    try {
      const app = writeDocBlock(dir, "own_workers.ts", docBlock("docs/serving.md", "own_workers.ts"));
      const [command, argv] = runtimeArgv(app);
      const launcher = new Launcher(["-s", "web=http::0", "--", command, ...argv], {}, 120_000);
      try {
        const port = await launcher.port();
        await launcher.waitFor(/^~> pid \d+ is ready/, 1, 60_000);
        const workers = new Map<number, { pids: Set<number>; answers: number }>();
        for (let round = 0; round < 10 && workers.size < 2; round++) {
          const report = await startLoad(port, 1000).finish(false);
          assert.equal(report.failed, 0, JSON.stringify(report));
          for (const [index, entry] of byWorker(report.bodies)) workers.set(index, entry);
        }
        assert.deepEqual([...workers.keys()].sort(), [0, 1]);
        const pids = [...workers.values()].flatMap((entry) => [...entry.pids]);
        assert.equal(new Set(pids).size, 2);
        const { code } = await launcher.stop();
        assert.equal(code, 0, launcher.stderr);
        for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: "ESRCH" });
      } finally {
        if (launcher.child.exitCode === null) await launcher.stop("SIGKILL");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);
