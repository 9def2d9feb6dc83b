// The standing table of hostile inputs (SPEC §5): what a careless or hostile
// user did to the launcher or the library, and what must happen instead.
// Each case names the defect it was found as (issue 14, D1–D13); add a case
// for every defect found.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, lstatSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { it } from "node:test";
import {
  close,
  HandoverError,
  notify,
  notifyErrno,
  notifySync,
  openSocketStream,
  receiveFdsSync,
  sendFdsSync,
  socketpair,
} from "../mod.ts";
import { instanceMembers, type ProcessEntry } from "../src/cli/process_tree.ts";
import { bindSocket, listenSocket, openSocket } from "../src/fd/socket.ts";
import { errnoError, errnoName, errnoNumber } from "../src/sys/errno.ts";
import { alive, cli, killIfAlive, scratch, waitUntil } from "./_abuse.ts";
import { CLI, get, Launcher } from "./_launcher.ts";
import { FIXTURES, guarded, lastJson, openFds, run, RUNTIME, runtimeArgv } from "./_helpers.ts";

const SDAPP = join(FIXTURES, "cli", "sdapp.py");
const TREE_APP = join(FIXTURES, "abuse", "tree_app.py");
const SD_NOTIFY = join(FIXTURES, "sd_notify.py");
const ERRNO_TABLE = join(FIXTURES, "abuse", "errno_table.py");

const isRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync("setpriv", ["--version"]).status === 0;
const strangerSkip = !isRoot
  ? "switching to uid 65534 needs root"
  : !hasSetpriv
  ? "setpriv (util-linux) is not installed"
  : !existsSync("/usr/bin/python3")
  ? "/usr/bin/python3 is missing"
  : false;
const mountSkip = !isRoot
  ? "a read-only mount in a private mount namespace needs root"
  : spawnSync("unshare", ["-m", "true"]).status !== 0
  ? "unshare -m does not work here"
  : false;

/** stderr lines of a CLI run that failed the way bad input must: one line, exit code 2. */
function assertUsageError(result: { code: number | null; stderr: string; stdout: string }, message: RegExp): void {
  assert.equal(result.code, 2, `exit ${result.code}\n${result.stderr}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got ${result.stderr}`);
  assert.match(lines[0]!, /^handover: /);
  assert.match(lines[0]!, message);
  assert.equal(result.stdout, "");
}

// ---- D1: durations ------------------------------------------------------------

it(
  "D1: durations a timer cannot hold, or too short for WATCHDOG_USEC, end the CLI with exit 2 and the range",
  guarded(async () => {
    const cases: [string[], string][] = [
      [["--ready-timeout", "2200000"], "--ready-timeout"],
      [["--stop-timeout", "2200000"], "--stop-timeout"],
      [["--watchdog", "2200000"], "--watchdog"],
      [["--restart-delay", "2200000"], "--restart-delay"],
      [["--debounce", "99999999999999999999"], "--debounce"],
      [["--start-limit-interval", "40000min"], "--start-limit-interval"],
      [["--watchdog", "0.0000001"], "--watchdog"],
      [["unit", "--watchdog", "2200000"], "--watchdog"],
    ];
    for (const [args, option] of cases) {
      const result = await run(...cli([...args, "--", "true"]));
      assertUsageError(result, new RegExp(`Expected a duration from \\S+ to 2147483s after ${option}, got`));
    }
  }),
);

it(
  "D1: an app's WATCHDOG_USEC= and EXTEND_TIMEOUT_USEC= beyond what a timer holds never fire at once",
  guarded(async () => {
    const huge = "2200000000000"; // 2.2e9 ms: past 2^31 - 1
    const watchdog = await run(
      ...cli([
        "--watchdog",
        "2s",
        "--",
        "python3",
        SDAPP,
        "ready",
        `notify:WATCHDOG_USEC=${huge}`,
        "sleep:3",
        "exit:0",
      ]),
    );
    assert.equal(watchdog.code, 0, watchdog.stderr);
    assert.doesNotMatch(watchdog.stderr, /watchdog: pid/);
    const extend = await run(
      ...cli([
        "--ready-timeout",
        "2s",
        "--",
        "python3",
        SDAPP,
        `notify:EXTEND_TIMEOUT_USEC=${huge}`,
        "sleep:3",
        "exit:0",
      ]),
    );
    assert.equal(extend.code, 0, extend.stderr);
    assert.doesNotMatch(extend.stderr, /did not send READY=1/);
  }),
);

// ---- D2: live sockets -----------------------------------------------------------

it(
  "D2: a live unix socket of any type is never deleted: the CLI refuses its path with exit 2 and says who holds it",
  guarded(async () => {
    const dir = scratch();
    const path = join(dir, "d.sock");
    try {
      const cases: ["stream" | "dgram" | "seqpacket", string][] = [
        ["dgram", path],
        ["seqpacket", path],
        ["stream", `seqpacket::${path}`],
        ["dgram", `seqpacket::${path}`],
        ["stream", path],
      ];
      for (const [kind, spec] of cases) {
        const server = openSocket("unix", kind);
        try {
          bindSocket(server, { family: "unix", path });
          if (kind !== "dgram") listenSocket(server, 16);
          const inode = lstatSync(path).ino;
          const result = await run(...cli(["-s", spec, "--", "true"]));
          assertUsageError(result, new RegExp(`is in use \\(.*by pid ${process.pid}\\b`));
          assert.equal(lstatSync(path).ino, inode, `${kind} server, -s ${spec}: its socket file is untouched`);
        } finally {
          close(server);
          rmSync(path, { force: true });
        }
      }
      // A file whose socket is gone is stale: every type of connect is refused, and the launcher takes the path.
      const dead = openSocket("unix", "dgram");
      bindSocket(dead, { family: "unix", path });
      close(dead);
      const result = await run(...cli(["-s", path, "--", "true"]));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(existsSync(path), false, "the launcher removed the file it bound");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

// ---- D3: errno --------------------------------------------------------------------

it(
  "D3: the errno tables hold every name and number of the platform's list (Python's errno, glibc's names)",
  guarded(async () => {
    const result = await run("python3", [ERRNO_TABLE, "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const { names, canonical } = lastJson<{ names: Record<string, number>; canonical: Record<string, string> }>(result);
    assert.ok(Object.keys(names).length > 120, "python3 listed the errno names");
    for (const [name, value] of Object.entries(names)) assert.equal(errnoNumber("linux", name), value, name);
    for (const [value, name] of Object.entries(canonical)) assert.equal(errnoName("linux", Number(value)), name);
    const erofs = errnoError("linux", "bind", 30);
    assert.deepEqual([erofs.code, erofs.errno, erofs.message], [
      "EROFS",
      30,
      "bind() failed with EROFS: read-only file system",
    ]);
    assert.equal(errnoNumber("darwin", "EROFS"), 30);
    assert.equal(errnoNumber("linux", "toString"), undefined, "only errno names are names");
    const saved = process.env.NOTIFY_SOCKET;
    delete process.env.NOTIFY_SOCKET;
    try {
      assert.equal(await notifyErrno("EROFS"), false, "EROFS is a name notifyErrno() knows");
    } finally {
      if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
    }
  }),
);

it(
  "D3: a bind on a read-only mount fails with EROFS and says so",
  { skip: mountSkip },
  guarded(async () => {
    const dir = scratch();
    try {
      const [command, argv] = runtimeArgv(CLI);
      const result = await run("unshare", [
        "-m",
        "sh",
        "-c",
        'mount -t tmpfs -o ro tmpfs "$0" && exec "$@"',
        dir,
        command,
        ...argv,
        "-s",
        join(dir, "x.sock"),
        "--",
        "true",
      ], { timeoutMs: 60_000 });
      assertUsageError(result, /Cannot bind .*x\.sock.*read-only file system/);
      assert.doesNotMatch(result.stderr, /E30/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

// ---- D4: the process tree -----------------------------------------------------------

for (const mode of ["overlap", "stop-first"] as const) {
  it(
    `D4: a restart (${mode}) ends the old instance's whole process group, not only the shell that started the server`,
    guarded(async () => {
      const launcher = new Launcher([
        "--restart-mode",
        mode,
        "--notify-access",
        "all",
        "--no-pid",
        "-s",
        "http::0",
        "--",
        "sh",
        "-c",
        `python3 ${TREE_APP} serve; echo done`,
      ]);
      let first: number | undefined;
      let second: number | undefined;
      try {
        const port = await launcher.port();
        first = Number((await launcher.waitForStdout(/^(\d+)$/))[1]);
        assert.equal(await get(port), `hello from ${first}\n`);
        launcher.signal("SIGHUP");
        second = Number((await launcher.waitForStdout(/^(\d+)$/, 2))[1]);
        await waitUntil(() => !alive(first!), `the old server (pid ${first}) to end`);
        for (let i = 0; i < 10; i++) assert.equal(await get(port), `hello from ${second}\n`, `request ${i}`);
      } finally {
        const { code } = await launcher.stop();
        const left = [first, second, ...launcher.started].filter((pid) => pid !== undefined && alive(pid));
        for (const pid of left) killIfAlive(pid);
        assert.deepEqual(left, [], "no server outlived the launcher");
        assert.equal(code, 143, launcher.stderr);
      }
    }),
  );

  it(
    `D4: a daemon the app double-forked is ended at a restart (${mode}) and at the stop, and never outlives the launcher`,
    guarded(async () => {
      const dir = scratch();
      const pidFile = join(dir, "daemon.pid");
      const daemons: number[] = [];
      const readDaemon = async () => {
        await waitUntil(() => existsSync(pidFile), "the daemon's pid file");
        const pid = Number(readFileSync(pidFile, "utf8"));
        rmSync(pidFile);
        daemons.push(pid);
        return pid;
      };
      const launcher = new Launcher(
        ["--restart-mode", mode, "-s", "http::0", "--", "python3", TREE_APP, "daemon", pidFile],
        { TREE_APP_QUIET: "1" },
      );
      try {
        const port = await launcher.port();
        const firstMain = Number((await launcher.waitFor(/^~> started pid (\d+)/))[1]);
        const first = await readDaemon();
        launcher.signal("SIGHUP");
        const main = Number((await launcher.waitFor(/^~> started pid (\d+)/, 2))[1]);
        const second = await readDaemon();
        await waitUntil(() => !alive(first), `the first daemon (pid ${first}) to end at the restart`);
        // The old main process serves on the socket too, and it got SIGTERM before the daemon: on a loaded machine
        // it may still be on its way out when the daemon is gone, and a connection it takes then is reset.
        await waitUntil(() => !alive(firstMain), `the first main process (pid ${firstMain}) to end at the restart`);
        const answers = new Set<string>();
        for (let i = 0; i < 12; i++) answers.add(await get(port));
        for (const answer of answers) {
          assert.ok(
            answer === `hello from ${main}\n` || answer === `hello from ${second}\n`,
            `only the new instance answers, got ${answer}`,
          );
        }
        assert.ok(alive(second), "the new instance's daemon was left alone");
        const { code } = await launcher.stop();
        assert.equal(code, 143, launcher.stderr);
        await waitUntil(() => !alive(second), `the second daemon (pid ${second}) to end with the launcher`, 5_000);
      } finally {
        if (launcher.running) await launcher.stop("SIGKILL");
        if (existsSync(pidFile)) daemons.push(Number(readFileSync(pidFile, "utf8")));
        for (const pid of [...daemons, ...launcher.started]) killIfAlive(pid);
        rmSync(dir, { recursive: true, force: true });
      }
    }),
  );
}

it(
  "D4: a daemon that came back to the launcher in the clock tick of the next instance's start, but before it, is the old instance's",
  () => {
    // /proc/PID/stat start times count 10 ms ticks: the test's poll for the daemon's pid file and a SIGHUP can fit in
    // one, and the overlap case above then waited 20 s for a daemon the launcher counted as the new instance's.
    const at = (pid: number, ppid: number, startTime: number): [number, ProcessEntry] => [
      pid,
      { pid, ppid, pgid: pid, sid: pid, state: "S", startTime },
    ];
    const table = new Map([
      at(10, 1, 50), // the launcher
      at(20, 10, 100), // the old instance
      at(30, 10, 130), // its daemon, back to the launcher
      at(31, 10, 130), // the new instance, spawned right after, in the same tick
      at(32, 10, 130), // the new instance's daemon
      at(40, 10, 140), // a later daemon of the new instance
    ]);
    const spawned = new Set([20, 31]);
    assert.deepEqual(instanceMembers(table, { pid: 20, startTime: 100 }, 10, spawned), [30]);
    assert.deepEqual(instanceMembers(table, { pid: 31, startTime: 130 }, 10, spawned), [32, 40]);
  },
);

// ---- D5: the app dies with its launcher ---------------------------------------------------

it(
  "D5: SIGKILL of the launcher ends the app too, and the next launch takes over the socket file it left",
  guarded(async () => {
    const dir = scratch();
    const path = join(dir, "app.sock");
    let pid: number | undefined;
    try {
      const launcher = new Launcher(["-s", path, "--", "python3", SDAPP, "ready", "sleep:60"]);
      pid = Number((await launcher.waitFor(/^~> started pid (\d+)/))[1]);
      await launcher.waitFor(/is ready$/);
      await launcher.stop("SIGKILL");
      await waitUntil(() => !alive(pid!), `the app (pid ${pid}) to end with its launcher`);
      assert.ok(existsSync(path), "a launcher killed with SIGKILL cannot remove its socket file");
      const next = await run(...cli(["-s", path, "--", "true"]));
      assert.equal(next.code, 0, next.stderr);
      assert.equal(existsSync(path), false);
    } finally {
      killIfAlive(pid);
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

// ---- D6: a closed stdout ----------------------------------------------------------------

it(
  "D6: a closed stdout and stderr never end the launcher: it keeps supervising and restarting the app",
  guarded(async () => {
    const launcher = new Launcher(["-s", "http::0", "--", "python3", TREE_APP, "serve"], { TREE_APP_QUIET: "1" });
    try {
      const port = await launcher.port();
      const first = await get(port);
      // `handover … 2>&1 | head -2`: the reader goes away.
      launcher.child.stdout!.destroy();
      launcher.child.stderr!.destroy();
      const answers = [first];
      for (let restart = 1; restart <= 2; restart++) {
        launcher.signal("SIGHUP");
        await waitUntil(async () => {
          const body = await get(port).catch(() => "");
          if (body === "" || answers.includes(body)) return false;
          answers.push(body);
          return true;
        }, `instance ${restart + 1} to answer`);
        assert.ok(launcher.running, "the launcher is still there");
      }
      const { code } = await launcher.stop();
      assert.equal(code, 143, "the launcher ended with the app's status, not of EPIPE");
    } finally {
      if (launcher.running) await launcher.stop("SIGKILL");
      for (const pid of launcher.started) killIfAlive(pid);
    }
  }),
);

// ---- D7: the start limit -----------------------------------------------------------------

it(
  "D7: a start limit ends crash loops, restart=always loops and on-demand loops instead of spinning",
  guarded(async () => {
    const cases: [string[], number, number][] = [
      [["--restart", "on-failure", "--restart-delay", "0", "--", "false"], 5, 1],
      [["--restart", "always", "--", "true"], 5, 1],
      [
        [
          "--start-limit-burst",
          "3",
          "--start-limit-interval",
          "1min",
          "--restart-delay",
          "0",
          "--restart",
          "always",
          "--",
          "sh",
          "-c",
          "exit 4",
        ],
        3,
        4,
      ],
    ];
    for (const [args, starts, status] of cases) {
      const result = await run(...cli(args, { timeoutMs: 30_000 }));
      assert.match(
        result.stderr,
        new RegExp(`^~> start limit hit: ${starts} starts within \\d+ s`, "m"),
        result.stderr,
      );
      assert.equal(result.stderr.split("\n").filter((l) => /^~> started pid/.test(l)).length, starts);
      assert.equal(result.code, status, args.join(" "));
    }
    // A client that connects and waits, and an app that exits at once: every exit finds a connection waiting.
    const launcher = new Launcher(["--on-demand", "-s", "0", "--", "true"], {}, 30_000);
    const client = net.connect(await launcher.port(), "127.0.0.1");
    client.on("error", () => {});
    try {
      const { code } = await launcher.exited;
      assert.equal(code, 1, launcher.stderr);
      assert.match(launcher.stderr, /^~> start limit hit: 5 starts within 10 s/m);
      assert.equal(launcher.count(/^~> started pid/), 5);
    } finally {
      client.destroy();
    }
  }),
);

// ---- D8: fd numbers past 1023 --------------------------------------------------------------

it(
  "D8: more fds than fd 3 to 1023 can carry end the CLI with exit 2 before anything is bound",
  guarded(async () => {
    const sockets = (n: number) => Array.from({ length: n }, () => ["-s", "0"]).flat();
    const tooMany = await run(...cli([...sockets(1030), "--", "true"]));
    assertUsageError(
      tooMany,
      /Expected at most 1021 fds for the app \(fd 3 to 1023\), got 1030 sockets and --fdstore 0/,
    );
    assert.doesNotMatch(tooMany.stderr, /~> socket/, "nothing was bound");
    const withStore = await run(...cli([...sockets(30), "--fdstore", "1000", "--", "true"]));
    assertUsageError(withStore, /got 30 sockets and --fdstore 1000/);
  }),
);

// ---- D9: notify access and printed text -------------------------------------------------------

it(
  "D9: --notify-access all ignores another user's WATCHDOG=trigger and FDSTORE=1: only the app's processes count",
  { skip: strangerSkip },
  guarded(async () => {
    const launcher = new Launcher([
      "--notify-access",
      "all",
      "--watchdog",
      "60s",
      "--fdstore",
      "4",
      "--",
      "python3",
      SDAPP,
      "env",
      "ready",
      "sleep:60",
    ]);
    try {
      const env = JSON.parse((await launcher.waitForStdout(/^(\{.*\})$/))[1]!) as { NOTIFY_SOCKET: string };
      await launcher.waitFor(/is ready$/);
      const stranger = await run("setpriv", [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "/usr/bin/python3",
        SD_NOTIFY,
        JSON.stringify({ state: "STATUS=owned\nWATCHDOG=trigger\nFDSTORE=1\nFDNAME=evil", fds: [0] }),
      ], { env: { PATH: "/usr/bin:/bin", NOTIFY_SOCKET: env.NOTIFY_SOCKET } });
      assert.equal(stranger.code, 0, stranger.stderr);
      assert.ok(lastJson<{ rc: number }>(stranger).rc > 0, "the stranger's datagram was sent");
      await launcher.waitFor(
        /^~> ignored notifications from pid \d+ \(uid 65534\): it is not one of the app's processes$/,
      );
      assert.equal(launcher.running, true);
      assert.doesNotMatch(launcher.stderr, /watchdog: pid|stored \d+ fd|status: owned/);
    } finally {
      const { code } = await launcher.stop();
      assert.equal(code, 143, launcher.stderr);
    }
  }),
);

it(
  "D9: STATUS= and every other text the launcher prints lose their terminal control sequences",
  guarded(async () => {
    const evil = "\x1b]0;pwned\x07\x1b[2J\x9b31mred\u202eevil";
    const result = await run(
      ...cli(["-s", `web=http::0`, "--", "python3", SDAPP, `status:${evil}`, "barrier", "exit:0"]),
    );
    assert.equal(result.code, 0, result.stderr);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(result.stderr, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/, "no control character is printed");
    assert.match(result.stderr, /^~> pid \d+ status: \\e\]0;pwned\\x07\\e\[2J\\x9b31mred\\u\{202e\}evil$/m);
    assert.match(result.stderr, /^~> started pid \d+: .*status:\\e\]0;pwned/m);
  }),
);

// ---- D10: unit and plist injection ------------------------------------------------------------

it(
  "D10: handover unit and plist refuse or escape what would inject a directive or a specifier",
  guarded(async () => {
    const refused: [string[], RegExp][] = [
      [["unit", "--description", "x\nExecStartPre=/bin/touch /tmp/pwned"], /Expected a description without control/],
      [["unit", "--description", "ends in a backslash\\"], /trailing backslash/],
      [["unit", "-s", "/tmp/a\nExecStartPre=/bin/touch /tmp/pwned.sock"], /Expected a socket path without control/],
      [["plist", "--", "python3", SDAPP, "bell\x07"], /Expected text that a property list can hold/],
    ];
    for (const [args, message] of refused) {
      const command = args.includes("--") ? [] : ["--", "python3", SDAPP];
      assertUsageError(await run(...cli([...args, ...command])), message);
    }
    const unit = await run(...cli([
      "unit",
      "--name",
      "demo",
      "--description",
      "50% off",
      "-s",
      "/run/app%i.sock",
      "--",
      "python3",
      SDAPP,
      "line\nbreak",
      "$HOME",
      "tab\there",
    ]));
    assert.equal(unit.code, 0, unit.stderr);
    assert.doesNotMatch(unit.stdout, /^ExecStartPre=/m);
    assert.match(unit.stdout, /^ListenStream=\/run\/app%%i\.sock$/m);
    assert.match(unit.stdout, /^Description=50%% off$/m);
    assert.match(unit.stdout, /^ExecStart=\S+ \S+ "line\\nbreak" "\$\$HOME" "tab\\there"$/m);
    const plist = await run(...cli(["plist", "--name", "demo", "--", "python3", SDAPP, "</string><string>x"]));
    assert.equal(plist.code, 0, plist.stderr);
    const parsed = await run("python3", [
      "-c",
      "import json,plistlib,sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))",
    ], {
      input: plist.stdout,
    });
    assert.deepEqual(lastJson<{ ProgramArguments: string[] }>(parsed).ProgramArguments.slice(1), [
      SDAPP,
      "</string><string>x",
    ]);
  }),
);

// ---- D11: receiveFds and maxFds -----------------------------------------------------------------

it(
  "D11: receiveFds() never returns more fds than maxFds: it closes the rest and reports truncated",
  guarded(() => {
    for (const maxFds of [0, 1, 2, 3, 4, 5, 6]) {
      const [a, b] = socketpair();
      try {
        sendFdsSync(a, [a, a, a, a, a, a], "six");
        const message = receiveFdsSync(b, { maxFds });
        assert.equal(message.fds.length, Math.min(maxFds, 6), `maxFds ${maxFds}`);
        assert.equal(message.truncated, maxFds < 6, `maxFds ${maxFds}`);
        for (const fd of message.fds) close(fd);
      } finally {
        close(a);
        close(b);
      }
    }
  }),
);

// ---- D12: openSocketStream on what is not a connected stream socket --------------------------------

it(
  "D12: openSocketStream() rejects a closed fd, a file, a pipe-like or listening socket with a HandoverError",
  guarded(async () => {
    const dir = scratch();
    const file = join(dir, "plain.txt");
    writeFileSync(file, "not a socket");
    const fileFd = openSync(file, "r");
    const [dgramA, dgramB] = socketpair("dgram");
    const listening = openSocket("inet", "stream");
    const unconnected = openSocket("unix", "stream");
    let closedFd = 1000;
    while (openFds().has(closedFd)) closedFd++;
    try {
      bindSocket(listening, { family: "inet", address: "127.0.0.1", port: 0 });
      listenSocket(listening, 4);
      const cases: [number, string][] = [
        [closedFd, "EBADF"],
        [fileFd, "ENOTSOCK"],
        [dgramA, "EPROTOTYPE"],
        [listening, "EINVAL"],
        [unconnected, "ENOTCONN"],
      ];
      for (const [fd, code] of cases) {
        await assert.rejects(openSocketStream(fd), (error: unknown) => {
          assert.ok(error instanceof HandoverError, `fd ${fd}: ${error}`);
          assert.equal(error.code, code, `fd ${fd}: ${error.message}`);
          return true;
        });
      }
    } finally {
      closeSync(fileFd);
      for (const fd of [dgramA, dgramB, listening, unconnected]) close(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

// ---- D12: notify with bad options, and without permission to read the environment -----------------

it(
  "D12: notify() and notifySync() with null options throw a TypeError that says what was expected",
  guarded(async () => {
    const expected = (error: unknown): boolean => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, /^Expected notify options to be an object, got null$/);
      return true;
    };
    await assert.rejects(notify("READY=1", null as never), expected);
    assert.throws(() => notifySync("READY=1", null as never), expected);
  }),
);

it(
  "D12: in Deno without --allow-env, notify() and watchdogInterval() fail with EACCES saying what to allow",
  { skip: RUNTIME === "deno" ? false : "Deno's permissions: this runs in the Deno leg" },
  guarded(async () => {
    const result = await run(process.execPath, [
      "run",
      "--allow-ffi",
      "--allow-read",
      "--no-check",
      join(FIXTURES, "abuse", "notify_no_env.ts"),
    ]);
    const report = lastJson<Record<string, { ok: boolean; name?: string; code?: string; message?: string }>>(result);
    for (const [call, outcome] of Object.entries(report)) {
      assert.equal(outcome.ok, false, call);
      assert.equal(outcome.name, "HandoverError", `${call}: ${outcome.message}`);
      assert.equal(outcome.code, "EACCES", call);
      assert.match(
        outcome.message!,
        /cannot read (NOTIFY_SOCKET|WATCHDOG_USEC) \(in Deno: allow it with --allow-env\)/,
      );
    }
  }),
);

// ---- D13: a directory as the command ---------------------------------------------------------

it(
  "D13: a directory as the command ends the CLI with exit 2 before any socket is bound",
  guarded(async () => {
    const dir = scratch();
    try {
      const result = await run(...cli(["-s", join(dir, "app.sock"), "--", dir]));
      assertUsageError(result, /Cannot find the command .* \(it is a directory\)/);
      assert.equal(existsSync(join(dir, "app.sock")), false, "nothing was bound");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);
