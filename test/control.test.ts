// The control socket: handover status, restart, stop and logs against a running launcher; other uids refused.
import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { it } from "node:test";
import { spawn } from "node:child_process";
import { FIXTURES, guarded, run, runtimeArgv, sleep } from "./_helpers.ts";
import { CLI, Launcher } from "./_launcher.ts";

const SDAPP = join(FIXTURES, "cli", "sdapp.py");
const ROOT_ONLY = process.getuid?.() === 0 && existsSync("/usr/bin/setpriv")
  ? undefined
  : "needs root and setpriv(1) to run the client as nobody";

function client(args: string[], env: Record<string, string>, prefix: string[] = []) {
  const [runtime, argv] = runtimeArgv(CLI);
  const [command, ...rest] = [...prefix, runtime, ...argv, ...args];
  return run(command!, rest, { env: { ...process.env, ...env }, timeoutMs: 30_000 });
}

it(
  "handover status shows the app's state, pid, restarts, STATUS= and sockets; restart and stop reach it",
  guarded(async () => {
    const runtimeDir = mkdtempSync(join(tmpdir(), "handover-control-"));
    const env = { XDG_RUNTIME_DIR: runtimeDir };
    const launcher = new Launcher(
      ["--name", "ctl", "-s", "web=http::0", "--", "python3", SDAPP, "ready", "status:serving requests", "sleep:60"],
      env,
    );
    try {
      const port = await launcher.port();
      await launcher.waitFor(/status: serving requests$/);
      const socket = join(runtimeDir, "handover", "ctl.sock");
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.equal(statSync(join(runtimeDir, "handover")).mode & 0o777, 0o700);
      const status = await client(["status"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^● ctl$/m);
      assert.match(status.stdout, /Active: active \(running\) since/);
      assert.match(status.stdout, /Main PID: \d+/);
      assert.match(status.stdout, /Restarts: 0/);
      assert.match(status.stdout, /Status: "serving requests"/);
      assert.match(status.stdout, new RegExp(`Sockets: http://127\\.0\\.0\\.1:${port}/`));
      const unknown = await client(["restart", "other"], env);
      assert.equal(unknown.code, 3);
      const restart = await client(["restart", "ctl"], env);
      assert.equal(restart.code, 0, restart.stderr);
      await launcher.waitFor(/handover restart: starting a new instance beside pid \d+/);
      await launcher.waitFor(/took over: stopping pid/);
      assert.match((await client(["status", "ctl"], env)).stdout, /Restarts: 1/);
      const stop = await client(["stop", "ctl"], env);
      assert.equal(stop.code, 0, stop.stderr);
      const { code } = await launcher.exited;
      assert.equal(code, 143);
      assert.equal(existsSync(socket), false);
    } finally {
      await launcher.stop();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  }),
);

it(
  "--workers 2 answers on the control socket and --health too: status, a rolling restart, /readyz once every worker is ready, stop",
  guarded(async () => {
    const runtimeDir = mkdtempSync(join(tmpdir(), "handover-control-"));
    const env = { XDG_RUNTIME_DIR: runtimeDir };
    const launcher = new Launcher(
      [
        ...["--workers", "2", "--name", "pool", "--health", "127.0.0.1:0", "-s", "web=http::0", "--"],
        ...["python3", SDAPP, "ready", "status:serving requests", "sleep:60"],
      ],
      env,
    );
    try {
      const health = Number((await launcher.waitFor(/^~> health http:\/\/127\.0\.0\.1:(\d+)\//))[1]);
      await launcher.waitFor(/is ready$/, 2);
      const readyz = await fetch(`http://127.0.0.1:${health}/readyz`);
      await readyz.text();
      assert.equal(readyz.status, 200);
      const status = await client(["status", "pool"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^● pool$/m);
      assert.match(status.stdout, /^ {3}Main PID: \d+ \(worker 0\)$/m);
      assert.match(status.stdout, /^ {4}Workers: 2 \(pids \d+, \d+\)$/m);
      assert.match(status.stdout, /Active: active \(running\) since/);
      const restart = await client(["restart", "pool"], env);
      assert.equal(restart.code, 0, restart.stderr);
      await launcher.waitFor(/^~> handover restart: restarting 2 workers one at a time$/);
      await launcher.waitFor(/took over: stopping pid/, 2);
      const stop = await client(["stop", "pool"], env);
      assert.equal(stop.code, 0, stop.stderr);
      const { code } = await launcher.exited;
      assert.equal(code, 143, launcher.stderr);
      assert.equal(existsSync(join(runtimeDir, "handover", "pool.sock")), false);
    } finally {
      await launcher.stop();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  }),
);

it(
  "the control socket refuses a client of another uid (nobody, by SO_PEERCRED) even when its mode lets it in",
  {
    skip: ROOT_ONLY,
  },
  guarded(async () => {
    const runtimeDir = mkdtempSync(join(tmpdir(), "handover-control-"));
    const nobodyDir = mkdtempSync(join(tmpdir(), "handover-nobody-"));
    const env = { XDG_RUNTIME_DIR: runtimeDir };
    const launcher = new Launcher(["--name", "guarded", "--", "python3", SDAPP, "ready", "sleep:60"], env);
    const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    try {
      await launcher.waitFor(/is ready$/);
      const socket = join(runtimeDir, "handover", "guarded.sock");
      // nobody's own runtime directory, with a link to the launcher's socket.
      chmodSync(runtimeDir, 0o755);
      chmodSync(nobodyDir, 0o755);
      mkdirSync(join(nobodyDir, "handover"), { mode: 0o700 });
      symlinkSync(socket, join(nobodyDir, "handover", "guarded.sock"));
      chownSync(join(nobodyDir, "handover"), 65534, 65534);
      // As created (0700 directory, 0600 socket), nobody cannot even connect.
      const denied = await client(["status", "guarded"], { XDG_RUNTIME_DIR: nobodyDir }, nobody);
      assert.equal(denied.code, 1, denied.stderr);
      assert.match(denied.stderr, /cannot reach guarded/);
      // With the modes opened by mistake, SO_PEERCRED still refuses it.
      chmodSync(join(runtimeDir, "handover"), 0o711);
      chmodSync(socket, 0o666);
      const refused = await client(["stop", "guarded"], { XDG_RUNTIME_DIR: nobodyDir }, nobody);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /refused: uid 65534 is not the launcher's uid 0/);
      assert.equal(launcher.child.exitCode, null);
      // The launcher's own user still gets through.
      chmodSync(join(runtimeDir, "handover"), 0o700);
      const status = await client(["status", "guarded"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^● guarded$/m);
    } finally {
      await launcher.stop();
      rmSync(runtimeDir, { recursive: true, force: true });
      rmSync(nobodyDir, { recursive: true, force: true });
    }
  }),
);

it(
  "handover logs NAME prints the launcher's recent lines, then new ones as they come",
  guarded(async () => {
    const runtimeDir = mkdtempSync(join(tmpdir(), "handover-control-"));
    const env = { XDG_RUNTIME_DIR: runtimeDir };
    const launcher = new Launcher(
      ["--name", "logged", "--", "python3", SDAPP, "ready", "sleep:1", "status:later news", "sleep:60"],
      env,
    );
    const [runtime, argv] = runtimeArgv(CLI);
    let follower: ReturnType<typeof spawn> | undefined;
    try {
      await launcher.waitFor(/is ready$/);
      follower = spawn(runtime, [...argv, "logs", "logged"], { env: { ...process.env, ...env }, stdio: "pipe" });
      let stdout = "";
      follower.stdout!.setEncoding("utf8").on("data", (d: string) => stdout += d);
      const deadline = Date.now() + 15_000;
      while (!stdout.includes("status: later news") && Date.now() < deadline) await sleep(50);
      assert.match(stdout, /^\S+Z started pid \d+: python3 /m);
      assert.match(stdout, /^\S+Z pid \d+ is ready$/m);
      assert.match(stdout, /^\S+Z pid \d+ status: later news$/m);
    } finally {
      if (follower?.exitCode === null) process.kill(follower.pid!, "SIGTERM");
      await launcher.stop();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  }),
);
