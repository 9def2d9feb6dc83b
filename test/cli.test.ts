// The handover CLI, run by the runtime under test: systemfd parity, the
// hand-over that libsystemd accepts, on-demand start, notifications,
// watchdog, restarts, the fd store, signals, restarts under load, bad input
// and the unit/plist generators.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { findProgram } from "../src/cli/units.ts";
import { FIXTURES, guarded, lastJson, run, runtimeArgv, sleep } from "./_helpers.ts";

import { CLI, get, Launcher, unitFiles } from "./_launcher.ts";
const SDAPP = join(FIXTURES, "cli", "sdapp.py");
// A node:http app for the on-demand test (idle exit by IDLE_MS); it makes no claim about restarts.
const HTTP_APP = join(FIXTURES, "cli", "http_app.mjs");
const LISTEN_FDS_PY = join(FIXTURES, "cli", "listen_fds.py");
const NODE = findProgram("node") ?? "node";

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "handover-cli-"));
}

it(
  "the CLI prints what it bound like systemfd and hands the sockets over at fd 3, 4, … that libsystemd accepts",
  guarded(async () => {
    const dir = scratch();
    try {
      const abstract = `@handover-test-${process.pid}`;
      const launcher = new Launcher([
        "-s",
        "web=http::0",
        "-s",
        "udp::0",
        "-s",
        join(dir, "app.sock"),
        "-s",
        `seqpacket::${abstract}`,
        "-s",
        "https::[::1]:0",
        "-s",
        "tcp::127.0.0.1:0",
        "--",
        "python3",
        LISTEN_FDS_PY,
      ]);
      const { code } = await launcher.exited;
      assert.equal(code, 0, launcher.stderr);
      const lines = launcher.stderr.split("\n").filter((l) => l.startsWith("~> socket"));
      assert.match(lines[0]!, /^~> socket http:\/\/127\.0\.0\.1:\d+\/ -> fd #3 as web$/);
      assert.match(lines[1]!, /^~> socket 127\.0\.0\.1:\d+ \(udp\) -> fd #4$/);
      assert.equal(lines[2], `~> socket ${join(dir, "app.sock")} (unix listener) -> fd #5`);
      assert.equal(lines[3], `~> socket ${abstract} (seqpacket listener) -> fd #6`);
      assert.match(lines[4]!, /^~> socket https:\/\/\[::1\]:\d+\/ -> fd #7$/);
      assert.match(lines[5]!, /^~> socket 127\.0\.0\.1:\d+ \(tcp listener\) -> fd #8$/);
      const seen = lastJson<{ n: number; names: string[]; fds: string[][]; listenPidLeft: string | null }>({
        code,
        signal: null,
        stdout: launcher.stdout,
        stderr: launcher.stderr,
      });
      assert.equal(seen.n, 6, "sd_listen_fds_with_names() accepted LISTEN_PID and counted every socket");
      assert.deepEqual(seen.names, ["web", "unknown", "unknown", "unknown", "unknown", "unknown"]);
      assert.deepEqual(seen.fds, [
        ["inet/stream"],
        ["inet/dgram"],
        ["unix/stream"],
        ["unix/seqpacket"],
        ["inet6/stream"],
        ["inet/stream"],
      ]);
      assert.deepEqual(readdirSync(dir), [], "the launcher removed its socket file");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

it(
  "the CLI sets LISTEN_PID to the app's own pid, omits it with --no-pid, and prints nothing with -q",
  guarded(async () => {
    const normal = await run(...cli(["-s", "0", "--watchdog", "5", "--", "python3", SDAPP, "env"]));
    assert.equal(normal.code, 0, normal.stderr);
    const env = lastJson<Record<string, string | number | null>>(normal);
    assert.equal(env.LISTEN_PID, String(env.pid));
    assert.equal(env.WATCHDOG_PID, String(env.pid));
    assert.equal(env.WATCHDOG_USEC, "5000000");
    assert.equal(env.LISTEN_FDS, "1");
    assert.equal(env.LISTEN_FDNAMES, "unknown");
    assert.match(String(env.NOTIFY_SOCKET), /^@handover\//);
    const noPid = await run(...cli(["-q", "--no-pid", "-s", "0", "--", "python3", SDAPP, "env"]));
    assert.equal(noPid.code, 0, noPid.stderr);
    assert.equal(noPid.stderr, "", "-q prints nothing");
    const quiet = lastJson<Record<string, string | null>>(noPid);
    assert.equal(quiet.LISTEN_PID, null);
    assert.equal(quiet.LISTEN_FDS, "1");
  }),
);

function cli(args: readonly string[], env: Record<string, string> = {}): Parameters<typeof run> {
  const [command, argv] = runtimeArgv(CLI);
  return [command, [...argv, ...args], { env: { ...process.env, ...env }, timeoutMs: 30_000 }];
}

it(
  "the CLI exits with the app's exit status",
  guarded(async () => {
    const result = await run(...cli(["--", "python3", SDAPP, "exit:7"]));
    assert.equal(result.code, 7);
    assert.match(result.stderr, /^~> warning: no sockets created$/m);
    assert.match(result.stderr, /^~> pid \d+ exited with code 7$/m);
  }),
);

it(
  "--on-demand starts the app at the first connection only, and again after it exits when idle",
  guarded(async () => {
    const launcher = new Launcher(["--on-demand", "-s", "web=http::0", "--", NODE, HTTP_APP], { IDLE_MS: "300" });
    try {
      const port = await launcher.port();
      await launcher.waitFor(/^~> waiting for the first connection$/);
      await sleep(300);
      assert.equal(launcher.count(/started pid/), 0, "nothing runs before the first connection");
      const first = await get(port);
      assert.match(first, /^hello from \d+/);
      assert.equal(launcher.count(/started pid/), 1);
      await launcher.waitFor(/exited with code 0$/);
      await launcher.waitFor(/^~> waiting for the first connection$/, 2);
      const second = await get(port);
      assert.notEqual(second, first, "a new app answered");
      assert.equal(launcher.count(/started pid/), 2);
    } finally {
      const { code } = await launcher.stop();
      assert.equal(code, 0, launcher.stderr);
    }
  }),
);

it(
  "--idle-timeout stops an on-demand app after that long without a connection; the next connection starts it again",
  guarded(async () => {
    // The app never exits by itself (no IDLE_MS): only the launcher's idle timeout stops it.
    const launcher = new Launcher([
      "--on-demand",
      "--idle-timeout",
      "500ms",
      "-s",
      "web=http::0",
      "--",
      NODE,
      HTTP_APP,
    ]);
    try {
      const port = await launcher.port();
      const first = await get(port);
      assert.match(first, /^hello from \d+/);
      const pid = first.trim().split(" ").at(-1);
      await launcher.waitFor(new RegExp(`^~> pid ${pid} is idle: stopping it until the next connection$`));
      await launcher.waitFor(new RegExp(`^~> pid ${pid} exited with code 0$`));
      await launcher.waitFor(/^~> waiting for the first connection$/, 2);
      const second = await get(port);
      assert.notEqual(second, first, "a new instance answered");
      assert.equal(launcher.count(/started pid/), 2);
    } finally {
      const { code } = await launcher.stop();
      assert.equal(code, 0, launcher.stderr);
    }
    const alone = await run(...cli(["--idle-timeout", "1s", "-s", "http::0", "--", NODE, HTTP_APP]));
    assert.equal(alone.code, 2);
    assert.equal(
      alone.stderr,
      "handover: --idle-timeout needs --on-demand (the next connection starts the app again)\n",
    );
    const bad = await run(...cli(["--on-demand", "--idle-timeout", "0", "-s", "http::0", "--", NODE, HTTP_APP]));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^handover: .*--idle-timeout/);
  }),
);

it(
  "READY=1 and STATUS= changes are shown, and BARRIER=1 is answered after the messages before it",
  guarded(async () => {
    const result = await run(...cli(["--", "python3", SDAPP, "status:warming up", "ready", "barrier", "exit:0"]));
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stderr.split("\n");
    const at = (pattern: RegExp) => lines.findIndex((l) => pattern.test(l));
    assert.ok(at(/^~> pid \d+ status: warming up$/) >= 0, result.stderr);
    assert.ok(at(/^~> pid \d+ is ready$/) > at(/status: warming up/), result.stderr);
    assert.ok(at(/status: before the barrier$/) > 0, result.stderr);
    assert.match(result.stdout, /^barrier ok$/m);
  }),
);

it(
  "--notify-access main ignores other processes' notifications; all accepts them",
  guarded(async () => {
    // sh forks python3 (it has more to do after it), so the notifier is not the main pid.
    const script = `python3 ${SDAPP} ready status:from-a-child; exit 0`;
    const main = await run(...cli(["--", "sh", "-c", script]));
    assert.equal(main.code, 0, main.stderr);
    assert.match(main.stderr, /^~> ignored notifications from pid \d+: only the app's own pid \d+ may notify/m);
    assert.doesNotMatch(main.stderr, /is ready/);
    const all = await run(...cli(["--notify-access", "all", "--", "sh", "-c", script]));
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stderr, /^~> pid \d+ is ready$/m);
    assert.match(all.stderr, /status: from-a-child$/m);
  }),
);

it(
  "--watchdog kills an app that stops sending WATCHDOG=1 and starts it again",
  guarded(async () => {
    const launcher = new Launcher([
      "--watchdog",
      "300ms",
      "--restart-delay",
      "50ms",
      "--",
      "python3",
      SDAPP,
      "ready",
      "ping:4:0.1",
      "sleep:30",
    ]);
    try {
      const first = await launcher.waitFor(/^~> started pid (\d+)/);
      await launcher.waitFor(/^~> watchdog: pid (\d+) sent no WATCHDOG=1 for 0.3 s; killing it with SIGABRT$/);
      await launcher.waitFor(new RegExp(`^~> pid ${first[1]} was killed by SIGABRT$`));
      const second = await launcher.waitFor(/^~> started pid (\d+)/, 2);
      assert.notEqual(second[1], first[1]);
      await launcher.waitFor(/is ready$/, 2);
    } finally {
      const { code } = await launcher.stop();
      assert.equal(code, 143, "the app died of the passed-on SIGTERM: 128 + 15");
    }
  }),
);

it(
  "--restart on-failure restarts a crashing app with a doubling back-off",
  guarded(async () => {
    const launcher = new Launcher([
      "--restart",
      "on-failure",
      "--restart-delay",
      "50ms",
      "--",
      "python3",
      SDAPP,
      "exit:3",
    ]);
    try {
      const started = Date.now();
      await launcher.waitFor(/^~> restarting in 200 ms \(failure 3\)$/);
      await launcher.waitFor(/started pid/, 4);
      assert.ok(Date.now() - started >= 350, "the delays were waited for");
      assert.equal(launcher.count(/^~> restarting in 50 ms \(failure 1\)$/), 1);
      assert.equal(launcher.count(/^~> restarting in 100 ms \(failure 2\)$/), 1);
    } finally {
      const { code } = await launcher.stop();
      // SIGTERM finds the launcher waiting (0), or an app that is starting (143) or ending (3).
      assert.ok(code === 0 || code === 3 || code === 143, `exit ${code}`);
    }
  }),
);

it(
  "--ready-timeout stops an app that never sends READY=1",
  guarded(async () => {
    const result = await run(
      ...cli(["--ready-timeout", "300ms", "--restart", "no", "--", "python3", SDAPP, "sleep:20"]),
    );
    assert.match(result.stderr, /^~> pid \d+ did not send READY=1 within 0.3 s: stopping it$/m);
    assert.equal(result.code, 143);
  }),
);

it(
  "SIGTERM and SIGINT are passed to the app, and the launcher exits with its status",
  guarded(async () => {
    for (const [signal, status] of [["SIGTERM", 7], ["SIGINT", 8]] as const) {
      const launcher = new Launcher([
        "-s",
        "0",
        "--",
        "python3",
        SDAPP,
        `trap:${signal}:${status}`,
        "ready",
        "sleep:30",
      ]);
      await launcher.waitFor(/is ready$/);
      const { code } = await launcher.stop(signal);
      assert.equal(code, status, launcher.stderr);
      assert.match(launcher.stdout, new RegExp(`^got ${signal}$`, "m"));
      assert.match(launcher.stderr, new RegExp(`^~> passing ${signal} to pid \\d+$`, "m"));
    }
  }),
);

it(
  "SIGHUP restarts an app that does not speak the reload protocol (overlapped, or stop-first) and reloads one that does",
  guarded(async () => {
    // Overlapped (the default): the new instance starts beside the old one, which stops once the new one is ready.
    const plain = new Launcher(["--", "python3", SDAPP, "ready", "sleep:30"]);
    try {
      const first = (await plain.waitFor(/^~> pid (\d+) is ready$/))[1];
      plain.signal("SIGHUP");
      await plain.waitFor(new RegExp(`^~> SIGHUP: starting a new instance beside pid ${first}$`));
      const second = (await plain.waitFor(/^~> started pid (\d+)/, 2))[1];
      await plain.waitFor(new RegExp(`^~> pid ${second} took over: stopping pid ${first}$`));
      await plain.waitFor(new RegExp(`^~> pid ${first} (exited|was killed)`));
      assert.equal(plain.count(/started pid/), 2, plain.stderr);
    } finally {
      await plain.stop();
    }
    // --restart-mode stop-first: the old one stops first.
    const stopFirst = new Launcher(["--restart-mode", "stop-first", "--", "python3", SDAPP, "ready", "sleep:30"]);
    try {
      await stopFirst.waitFor(/is ready$/);
      stopFirst.signal("SIGHUP");
      await stopFirst.waitFor(/^~> SIGHUP: restarting pid \d+$/);
      await stopFirst.waitFor(/started pid/, 2);
      assert.ok(stopFirst.stderr.indexOf("exited") < stopFirst.stderr.lastIndexOf("started pid"), stopFirst.stderr);
    } finally {
      await stopFirst.stop();
    }
    const reloading = new Launcher([
      "--reload-signal",
      "SIGHUP",
      "--",
      "python3",
      SDAPP,
      "reload-on-hup",
      "ready",
      "sleep:30",
    ]);
    try {
      await reloading.waitFor(/is ready$/);
      reloading.signal("SIGHUP");
      await reloading.waitFor(/^~> reloading pid \d+ with SIGHUP$/);
      await reloading.waitFor(/^~> pid \d+ is reloading$/);
      await reloading.waitFor(/^~> pid \d+ reloaded$/);
      assert.equal(reloading.count(/started pid/), 1, "reloaded in place");
    } finally {
      await reloading.stop();
    }
  }),
);

it(
  "--fdstore keeps fds across a restart and passes them after the sockets; FDSTOREREMOVE=1 drops them",
  guarded(async () => {
    const result = await run(...cli([
      "-s",
      "web=0",
      "--fdstore",
      "4",
      "--restart",
      "on-failure",
      "--restart-delay",
      "10ms",
      "--",
      "python3",
      SDAPP,
      "if-fds:state",
      "show-fds",
      "exit:0",
      "else",
      "store:state:kept",
      "store:scratch:dropped",
      "unstore:scratch",
      "exit:1",
    ]));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^~> stored 1 fd as "state" \(1 of 4\)$/m);
    assert.match(result.stderr, /^~> removed 1 stored fd named "scratch"$/m);
    const seen = lastJson<{ names: string[]; contents: string[] }>(result);
    assert.deepEqual(seen.names, ["web", "state"]);
    assert.deepEqual(seen.contents, ["socket", "kept"]);
  }),
);

it(
  "bad input ends the CLI with one clear line and exit code 2, leaving no socket file behind",
  guarded(async () => {
    const dir = scratch();
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const busyPort = (busy.address() as net.AddressInfo).port;
    try {
      const cases: [string[], RegExp][] = [
        [["-s", "8080x", "--", "true"], /Unsupported socket spec "8080x"/],
        [["-s", "ftp::21", "--", "true"], /Unknown socket type "ftp"/],
        [["-s", "70000", "--", "true"], /Expected a port from 0 to 65535/],
        [["-s", "1.2.3:80", "--", "true"], /Expected an IPv4 address/],
        [["-s", "unix::8080", "--", "true"], /Expected a path/],
        [["-s", `${dir}/${"a".repeat(120)}.sock`, "--", "true"], /sun_path holds at most 107/],
        [["-s", join(dir, "first.sock"), "-s", String(busyPort), "--", "true"], /already in use/],
        [["-s", "0"], /Expected a command to run/],
        [["-s", "0", "--", "no-such-command-handover"], /Cannot find the command "no-such-command-handover"/],
        [["--frobnicate", "--", "true"], /Unknown option --frobnicate/],
        [["--watchdog", "soon", "--", "true"], /Expected a duration/],
        [["--restart", "sometimes", "--", "true"], /Expected one of no, on-failure, always/],
        [["--watch", join(dir, "missing"), "--", "true"], /Cannot watch/],
      ];
      for (const [args, message] of cases) {
        const result = await run(...cli(args));
        assert.equal(result.code, 2, `${args.join(" ")}: exit ${result.code}\n${result.stderr}`);
        const lines = result.stderr.trimEnd().split("\n");
        assert.equal(lines.length, 1, `${args.join(" ")}: one line, got ${result.stderr}`);
        assert.match(lines[0]!, /^handover: /);
        assert.match(lines[0]!, message);
        assert.equal(result.stdout, "");
        assert.deepEqual(readdirSync(dir), [], `${args.join(" ")} left files behind`);
      }
    } finally {
      await new Promise((resolve) => busy.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

it(
  "handover unit prints a .socket per socket name and a .service with Sockets=, Type=, WatchdogSec= and the fd store",
  guarded(async () => {
    const result = await run(...cli([
      "unit",
      "--name",
      "demo",
      "--type",
      "notify",
      "--watchdog",
      "10",
      "--fdstore",
      "2",
      "-s",
      "web=http::8080",
      "-s",
      "admin=/run/demo.sock",
      "--",
      "python3",
      SDAPP,
      "ready",
    ]));
    assert.equal(result.code, 0, result.stderr);
    const files = unitFiles(result.stdout);
    assert.deepEqual([...files.keys()], ["demo-web.socket", "demo-admin.socket", "demo.service"]);
    assert.match(files.get("demo-web.socket")!, /^ListenStream=127\.0\.0\.1:8080$/m);
    assert.match(files.get("demo-web.socket")!, /^FileDescriptorName=web$/m);
    assert.match(files.get("demo-admin.socket")!, /^ListenStream=\/run\/demo\.sock$/m);
    const service = files.get("demo.service")!;
    assert.match(service, /^Type=notify$/m);
    assert.match(service, /^WatchdogSec=10$/m);
    assert.match(service, /^FileDescriptorStoreMax=2$/m);
    assert.match(service, /^Sockets=demo-web.socket demo-admin.socket$/m);
    assert.match(service, new RegExp(`^ExecStart=/\\S*python3 ${SDAPP} ready$`, "m"));
    // systemd-analyze verify runs on these units inside the real systemd: test/systemd/units.ts.
  }),
);

it(
  "handover plist prints a property list with the sockets by name",
  guarded(async () => {
    const result = await run(...cli(["plist", "--name", "demo", "-s", "web=http::8080", "--", "python3", SDAPP]));
    assert.equal(result.code, 0, result.stderr);
    const parsed = await run("python3", [
      "-c",
      "import json,plistlib,sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))",
    ], {
      input: result.stdout,
    });
    assert.equal(parsed.code, 0, parsed.stderr);
    const plist = lastJson<Record<string, unknown>>(parsed);
    assert.equal(plist.Label, "local.demo");
    assert.deepEqual((plist.ProgramArguments as string[]).slice(1), [SDAPP]);
    assert.deepEqual(plist.Sockets, {
      web: { SockType: "stream", SockFamily: "IPv4", SockNodeName: "127.0.0.1", SockServiceName: "8080" },
    });
  }),
);
