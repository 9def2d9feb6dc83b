// The launcher in a container: PID 1 of a pid namespace, /readyz and /livez (--health), handover probes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { it } from "node:test";
import { FIXTURES, guarded, runtimeArgv, sleep } from "./_helpers.ts";
import { CLI, Launcher } from "./_launcher.ts";

const SDAPP = join(FIXTURES, "cli", "sdapp.py");
const ROOT_ONLY = process.getuid?.() === 0 && existsSync("/usr/bin/unshare")
  ? undefined
  : "needs root and unshare(1) for a new pid namespace";

async function probe(port: number, path: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  await response.text();
  return response.status;
}

async function healthPort(launcher: Launcher): Promise<number> {
  return Number((await launcher.waitFor(/^~> health http:\/\/127\.0\.0\.1:(\d+)\//))[1]);
}

it(
  "/readyz follows READY=1, RELOADING=1 and STOPPING=1, and /livez stays 200 while the app runs",
  guarded(async () => {
    const launcher = new Launcher([
      "--health",
      "127.0.0.1:0",
      "--",
      "python3",
      SDAPP,
      "sleep:0.5",
      "ready",
      "sleep:1.5",
      "reloading",
      "sleep:1.5",
      "ready",
      "sleep:1.5",
      "stopping",
      "sleep:30",
    ]);
    try {
      const port = await healthPort(launcher);
      await launcher.waitFor(/^~> started pid/);
      assert.equal(await probe(port, "/readyz"), 503);
      await launcher.waitFor(/is ready$/);
      assert.equal(await probe(port, "/readyz"), 200);
      assert.equal(await probe(port, "/livez"), 200);
      await launcher.waitFor(/is reloading$/);
      assert.equal(await probe(port, "/readyz"), 503);
      await launcher.waitFor(/reloaded$/);
      assert.equal(await probe(port, "/readyz"), 200);
      await launcher.waitFor(/is stopping$/);
      assert.equal(await probe(port, "/readyz"), 503);
      assert.equal(await probe(port, "/livez"), 200);
      assert.equal(await probe(port, "/nothing"), 404);
    } finally {
      await launcher.stop();
    }
  }),
);

it(
  "/livez answers 503 once the app stops feeding its watchdog",
  guarded(async () => {
    const launcher = new Launcher([
      "--health",
      "127.0.0.1:0",
      "--watchdog",
      "1",
      "--restart-delay",
      "30",
      "--",
      "python3",
      SDAPP,
      "ready",
      "ping:4:0.2",
      "sleep:30",
    ]);
    try {
      const port = await healthPort(launcher);
      await launcher.waitFor(/is ready$/);
      assert.equal(await probe(port, "/livez"), 200);
      await launcher.waitFor(/^~> watchdog: pid \d+ sent no WATCHDOG=1/);
      assert.equal(await probe(port, "/livez"), 503);
      assert.equal(await probe(port, "/readyz"), 503);
    } finally {
      await launcher.stop();
    }
  }),
);

it(
  "handover probes prints Kubernetes probes and a Dockerfile ENTRYPOINT for the --health port",
  guarded(async () => {
    const launcher = new Launcher(["probes", "--health", ":9000", "--", "node", "server.js"]);
    const { code } = await launcher.exited;
    assert.equal(code, 0);
    assert.match(
      launcher.stdout,
      /^ENTRYPOINT \["npx", "handover", "--health", ":9000", .*"--", "node", "server\.js"\]$/m,
    );
    assert.match(launcher.stdout, /readinessProbe:\n {2}httpGet:\n {4}path: \/readyz\n {4}port: 9000/);
    assert.match(launcher.stdout, /livenessProbe:\n {2}httpGet:\n {4}path: \/livez\n {4}port: 9000/);
  }),
);

/** The children of a process (Linux's /proc/PID/task/PID/children). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Zombies whose parent is `pid`. */
function zombiesOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" && Number(fields[1]) === pid) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

it(
  "as PID 1 of a pid namespace the launcher reaps orphaned daemons, passes SIGTERM on and exits with the app's status",
  { skip: ROOT_ONLY },
  guarded(async () => {
    const [runtime, argv] = runtimeArgv(CLI);
    // Three daemons double-fork away; each says who its parent is once orphaned, then ends (a zombie to reap).
    const daemon = `sh -c 'sleep 0.3; echo "orphan parent $(cut -d" " -f4 /proc/$$/stat)"'`;
    const script = `for i in 1 2 3; do ( ${daemon} & ); done; trap 'echo got TERM; exit 7' TERM; ` +
      `echo up; i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`;
    const child = spawn("unshare", ["-fp", "--mount-proc", runtime, ...argv, "--", "sh", "-c", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => stdout += d);
    child.stderr!.setEncoding("utf8").on("data", (d: string) => stderr += d);
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      const deadline = Date.now() + 20_000;
      while ((stdout.match(/orphan parent/g) ?? []).length < 3 && Date.now() < deadline) await sleep(50);
      assert.deepEqual(
        stdout.match(/orphan parent \d+/g),
        ["orphan parent 1", "orphan parent 1", "orphan parent 1"],
        stderr,
      );
      const launcher = children(child.pid!)[0];
      assert.ok(launcher !== undefined, "the launcher runs under unshare");
      // Reaped within a scan (every second after a start).
      let zombies = zombiesOf(launcher);
      for (let i = 0; i < 50 && zombies.length > 0; i++) {
        await sleep(100);
        zombies = zombiesOf(launcher);
      }
      assert.deepEqual(zombies, []);
      process.kill(launcher, "SIGTERM");
      assert.equal(await exited, 7, stderr);
      assert.match(stdout, /got TERM/);
      assert.match(stderr, /~> passing SIGTERM to pid \d+$/m);
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    }
  }),
);
