// Socket activation against real activators: systemd-socket-activate,
// libsystemd itself (sd_listen_fds_with_names() through python3 ctypes in the
// very process that then runs handover), and launch_activate_socket() of a
// stand-in library built here with gcc.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { connect as connectTcp, type Socket } from "node:net";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { collect, HandoverError, isActivated, listenFds } from "../mod.ts";
import {
  matchFdNames,
  parseListenEnvironment,
  parseSystemdInt,
  parseSystemdPid,
  parseSystemdU64,
  splitFdNames,
} from "../src/activation/environment.ts";
import { FIXTURES, guarded, lastJson, run, runFixture, RUNTIME, runtimeArgv, sleep } from "./_helpers.ts";

const REPORT = join(FIXTURES, "activation_report.ts");
const VARIABLES = ["LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_FDS_FIRST_FD"];

interface Attempt<T> {
  ok: boolean;
  value?: T;
  code?: string;
  message?: string;
}

interface Described {
  fd: number;
  name: string;
  type: string;
  family: string;
  listening: boolean;
  address: { family: string; address?: string; port?: number; path?: string };
  closeOnExec: boolean;
  inode: string;
}

interface Report {
  pid: number;
  runtime: string;
  activatedBefore: boolean;
  activatedAfter: boolean;
  environmentBefore: Record<string, string>;
  environmentAfter: Record<string, string>;
  cEnvironmentAfter: string[];
  fdsLeft: string[];
  listenFds: Attempt<Described[]>;
  collected: Record<string, Attempt<number[]>>;
  again: Record<string, Attempt<number[]>>;
  unknownName: Attempt<number[]>;
  served?: string;
  childEnvironment?: Record<string, string>;
  bunChildEnvironment?: { default: Record<string, string>; processEnv: Record<string, string> };
  denoChildEnvironment?: Record<string, string>;
  /** With the start-up entry: whether the whole backend was loaded when the collects returned. */
  bound?: string[];
}

/**
 * The ways in, which must agree: the main entry (mod.ts), the start-up entry (activation.ts) and both entries
 * as built for JSR (jsr/activation.js and jsr/mod.js, Deno's; `npm test` builds them), in Deno only: in Bun and
 * Node they say to install from npm (tested below).
 */
const ENTRIES = [
  { entry: "main", title: "" },
  { entry: "activation", title: " (start-up entry: activation.ts)" },
  ...(RUNTIME === "deno"
    ? [
      { entry: "jsr", title: " (start-up entry as built for JSR: jsr/activation.js)" },
      { entry: "jsr-main", title: " (main entry as built for JSR: jsr/mod.js)" },
    ]
    : []),
] as const;

it("the entries as built for JSR are Deno's: in Bun and Node, collect() says to install from npm", {
  skip: RUNTIME === "deno" ? "Deno runs them in the tests of every entry and in serve.test.ts" : false,
}, async () => {
  for (const entry of ["activation", "mod"]) {
    const result = await runFixture("jsr_elsewhere.ts", [entry], {
      env: { ...process.env, LISTEN_FDS: "1", LISTEN_PID: "1" },
    });
    assert.deepEqual(lastJson(result), {
      name: "Error",
      message:
        `handover's JSR package is for Deno (jsr/${entry}.js): in Bun and Node, install the npm package, handover`,
    });
  }
});

/** With the start-up entry and no LISTEN_PIDFDID, collect() bound one C function: fcntl. */
function assertStartupCallsAlone(found: Report, entry: string): void {
  // Only the TypeScript entry can be looked into (the JSR build holds its own copy of the modules).
  if (entry !== "activation") return;
  assert.deepEqual(found.bound, ["fcntl"]);
}

function rejects(code: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof HandoverError, `expected a HandoverError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

// ---------------------------------------------------------------- parsing

it("parseSystemdInt() reads numbers as libsystemd's safe_atoi(): white space, sign, 0x, 0, 0b, 0o", () => {
  const cases: [string, number | undefined][] = [
    ["3", 3],
    [" 3", 3],
    ["\t3", 3],
    ["\v3", 3],
    ["+3", 3],
    ["-3", -3],
    ["0x10", 16],
    ["010", 8],
    ["0b11", 3],
    ["0o17", 15],
    ["0b 1", 1],
    ["3 ", undefined],
    ["", undefined],
    ["abc", undefined],
    ["0x", undefined],
    ["0b", undefined],
    ["08", undefined],
    ["2147483647", 2147483647],
    ["2147483648", undefined],
    ["-2147483648", -2147483648],
    ["99999999999999999999", undefined],
    // Around the plain-decimal fast path (1 to 9 digits, no leading zero) and the full scan after it.
    ["0", 0],
    ["7", 7],
    ["123456789", 123456789],
    ["1234567890", 1234567890],
    ["0123", 83],
    ["12a", undefined],
    ["1/", undefined],
    ["1:", undefined],
  ];
  for (const [text, expected] of cases) assert.equal(parseSystemdInt(text), expected, JSON.stringify(text));
});

it("parseSystemdPid() and parseSystemdU64() follow parse_pid() and safe_atou64()", () => {
  assert.equal(parseSystemdPid("42"), 42);
  assert.equal(parseSystemdPid("0"), undefined);
  assert.equal(parseSystemdPid("-5"), undefined);
  assert.equal(parseSystemdPid("-0"), undefined);
  assert.equal(parseSystemdPid("2147483648"), undefined);
  assert.equal(parseSystemdU64("18446744073709551615"), 18446744073709551615n);
  assert.equal(parseSystemdU64("18446744073709551616"), undefined);
  assert.equal(parseSystemdU64(" -1"), undefined);
  assert.equal(parseSystemdU64("-0"), 0n);
  // The plain-decimal fast path gives what the full scan gives.
  assert.equal(parseSystemdPid("999999999"), 999999999);
  assert.equal(parseSystemdPid("1"), 1);
  assert.equal(parseSystemdPid("01"), 1);
  assert.equal(parseSystemdU64("42"), 42n);
  assert.equal(parseSystemdU64("42 "), undefined);
});

it("splitFdNames() keeps empty fields, unescapes backslashes and refuses a trailing one", () => {
  assert.deepEqual(splitFdNames("a::b"), ["a", "", "b"]);
  assert.deepEqual(splitFdNames(""), [""]);
  assert.deepEqual(splitFdNames(":"), ["", ""]);
  assert.deepEqual(splitFdNames("web:admin"), ["web", "admin"]);
  assert.deepEqual(splitFdNames("a\\:b"), ["a:b"]);
  assert.deepEqual(splitFdNames("a\\\\b:c"), ["a\\b", "c"]);
  assert.throws(() => splitFdNames("a\\"), rejects("EINVAL", /LISTEN_FDNAMES is "a\\\\"/));
});

it("matchFdNames() says how many names and fds there were", () => {
  assert.deepEqual(matchFdNames(2, undefined), ["unknown", "unknown"]);
  assert.throws(
    () => matchFdNames(3, ["a", "b"]),
    rejects("EINVAL", /^LISTEN_FDNAMES has 2 names but LISTEN_FDS is 3$/),
  );
});

it("parseListenEnvironment() is strict by default and lenient only when asked", () => {
  const env = { LISTEN_FDS: "2", LISTEN_FDS_FIRST_FD: "7" };
  assert.deepEqual(parseListenEnvironment(env, { pid: 9 }), { addressed: false, reason: "LISTEN_PID is not set" });
  assert.deepEqual(parseListenEnvironment(env, { pid: 9, lenient: true }), {
    addressed: true,
    first: 7,
    count: 2,
    names: undefined,
  });
  assert.throws(
    () => parseListenEnvironment({ ...env, LISTEN_FDS_FIRST_FD: "1" }, { pid: 9, lenient: true }),
    rejects("EINVAL", /^LISTEN_FDS_FIRST_FD is "1"/),
  );
  assert.deepEqual(parseListenEnvironment({ LISTEN_PID: "8", LISTEN_FDS: "1" }, { pid: 9, lenient: true }), {
    addressed: false,
    reason: "LISTEN_PID is 8, not this process (9)",
  });
  assert.throws(
    () => parseListenEnvironment({ LISTEN_PID: "9", LISTEN_FDS: "two" }, { pid: 9 }),
    rejects("EINVAL", /^LISTEN_FDS is "two", expected a number of fds$/),
  );
});

// ---------------------------------------------------------------- this process

it(
  "in a process no service manager started, isActivated() is false, listenFds() is empty and collect() throws ESRCH",
  guarded(() => {
    assert.equal(isActivated(), false);
    assert.deepEqual(listenFds(), []);
    // The message says which variable decided, what started this process, and what to do instead.
    assert.throws(
      () => collect("web"),
      rejects(
        "ESRCH",
        /^Not started by a service manager: LISTEN_PID is not set: this process was started by .+ \(pid \d+\), not by a service manager; to pass it sockets, start it from a systemd \.socket unit or with the launcher/,
      ),
    );
    assert.throws(() => collect(3 as never), TypeError);
  }),
);

// ---------------------------------------------------------------- systemd-socket-activate

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Activator {
  readonly output: () => string;
  readonly errors: () => string;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts systemd-socket-activate with the report fixture as the program to activate. */
function activate(args: readonly string[], instructions: object): Activator {
  const [command, argv] = runtimeArgv(REPORT);
  const child = spawn("systemd-socket-activate", [...args, command, ...argv, JSON.stringify(instructions)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => stdout += d);
  child.stderr.setEncoding("utf8").on("data", (d: string) => stderr += d);
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return {
    output: () => stdout,
    errors: () => stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

async function waitFor<T>(what: string, probe: () => T | undefined, activator: Activator, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; Date.now() < deadline; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await sleep(Math.min(20 + i * 10, 200));
  }
  assert.fail(`timed out waiting for ${what}; stdout: ${activator.output()}\nstderr: ${activator.errors()}`);
}

/** Connects (retrying while the activator starts listening) and reads until the peer closes. */
async function exchange(port: number, activator: Activator): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const result = await new Promise<string | Error>((resolve) => {
      let text = "";
      const socket: Socket = connectTcp({ host: "127.0.0.1", port });
      socket.setEncoding("utf8");
      socket.setTimeout(60_000, () => socket.destroy(new Error("no answer within 60 s")));
      socket.on("data", (d: string) => text += d);
      socket.on("error", (error) => resolve(error));
      socket.on("close", () => resolve(text));
    });
    if (typeof result === "string") return result;
    if ((result as NodeJS.ErrnoException).code !== "ECONNREFUSED") throw result;
    await sleep(Math.min(20 + attempt * 20, 250));
  }
  assert.fail(`could not connect to 127.0.0.1:${port}: ${activator.errors()}`);
}

function report(activator: Activator): Report | undefined {
  const line = activator.output().trim().split("\n").find((l) => l.startsWith("{"));
  return line === undefined ? undefined : JSON.parse(line) as Report;
}

/** Runs one systemd-socket-activate scenario, retrying with new ports when one is taken meanwhile. */
async function withPorts<T>(count: number, body: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    const ports: number[] = [];
    while (ports.length < count) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    try {
      return await body(ports);
    } catch (error) {
      if (attempt >= 3 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

for (const { entry, title } of ENTRIES) {
  it(
    `systemd-socket-activate: two named TCP sockets and a unix socket are collected by name, listed, served and unset${title}`,
    guarded(async () => {
      const scratch = mkdtempSync(join(tmpdir(), "handover-activate-"));
      try {
        await withPorts(2, async ([web, admin]) => {
          const path = join(scratch, "local.sock");
          const activator = activate(
            ["-l", `127.0.0.1:${web}`, "-l", `127.0.0.1:${admin}`, "-l", path, "--fdname=web:admin:local"],
            { entry, collect: ["web", "admin", "local"], serve: "web", children: true },
          );
          try {
            const answer = await exchange(web!, activator);
            const found = await waitFor("the report", () => report(activator), activator);
            assert.equal(answer, `web ${found.pid}\n`);
            assert.equal(found.runtime, RUNTIME);
            assertStartupCallsAlone(found, entry);
            assert.equal(found.activatedBefore, true);
            assert.deepEqual(found.environmentBefore, {
              LISTEN_PID: String(found.pid),
              LISTEN_FDS: "3",
              LISTEN_FDNAMES: "web:admin:local",
            });
            assert.deepEqual(found.listenFds.value, [
              {
                fd: 3,
                name: "web",
                type: "stream",
                family: "inet",
                listening: true,
                address: { family: "inet", address: "127.0.0.1", port: web },
                closeOnExec: true,
                inode: found.listenFds.value![0]!.inode,
              },
              {
                fd: 4,
                name: "admin",
                type: "stream",
                family: "inet",
                listening: true,
                address: { family: "inet", address: "127.0.0.1", port: admin },
                closeOnExec: true,
                inode: found.listenFds.value![1]!.inode,
              },
              {
                fd: 5,
                name: "local",
                type: "stream",
                family: "unix",
                listening: true,
                address: { family: "unix", path },
                closeOnExec: true,
                inode: found.listenFds.value![2]!.inode,
              },
            ]);
            assert.deepEqual(found.collected, {
              web: { ok: true, value: [3] },
              admin: { ok: true, value: [4] },
              local: { ok: true, value: [5] },
            });
            for (const name of ["web", "admin", "local"]) {
              assert.equal(found.again[name]!.code, "EALREADY");
              assert.match(found.again[name]!.message!, new RegExp(`"${name}" were already collected`));
            }
            assert.equal(found.unknownName.code, "ENOENT");
            assert.match(found.unknownName.message!, /"no-such-name".*"web", "admin", "local"/);
            // Unset in the runtime's view, in the C environment and in what every kind of child inherits.
            assert.deepEqual(found.environmentAfter, {});
            assert.deepEqual(found.cEnvironmentAfter, []);
            assert.deepEqual(found.childEnvironment, {});
            if (RUNTIME === "deno") assert.deepEqual(found.denoChildEnvironment, {});
            if (RUNTIME === "bun") {
              assert.deepEqual(found.bunChildEnvironment!.processEnv, {});
              // Bun.spawn() without `env` passes Bun's startup snapshot, whatever process.env
              // and the C environment say (oven-sh/bun#34972). If this fails, Bun fixed it:
              // update the README's note and this line.
              assert.deepEqual(found.bunChildEnvironment!.default, found.environmentBefore);
            }
            assert.equal(await activator.exited, 0, activator.errors());
          } finally {
            await activator.stop();
          }
        });
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }),
  );
}

it(
  "systemd-socket-activate --datagram: the UDP socket arrives with its name, not listening, with the datagram queued",
  guarded(async () => {
    await withPorts(1, async ([port]) => {
      const activator = activate(["--datagram", "-l", `127.0.0.1:${port}`, "--fdname=metrics"], {
        collect: ["metrics"],
        serve: "metrics",
      });
      const sender = createSocket("udp4");
      try {
        const found = await waitFor("the report", () => {
          sender.send("hello datagram", port!, "127.0.0.1");
          return report(activator);
        }, activator);
        assert.equal(found.served, "datagram hello datagram");
        const [described] = found.listenFds.value!;
        assert.equal(described!.name, "metrics");
        assert.equal(described!.type, "dgram");
        assert.equal(described!.family, "inet");
        assert.equal(described!.listening, false);
        assert.deepEqual(described!.address, { family: "inet", address: "127.0.0.1", port });
        assert.deepEqual(found.collected.metrics, { ok: true, value: [3] });
      } finally {
        sender.close();
        await activator.stop();
      }
    });
  }),
);

it(
  "systemd-socket-activate --accept: the connection arrives as a connected socket named connection",
  guarded(async () => {
    await withPorts(1, async ([port]) => {
      const activator = activate(["--accept", "-l", `127.0.0.1:${port}`, "--fdname=connection"], {
        collect: ["connection"],
        serve: "connection",
      });
      try {
        const answer = await exchange(port!, activator);
        const found = await waitFor("the report", () => report(activator), activator);
        assert.equal(answer, `connection ${found.pid}\n`);
        assert.equal(found.served, "connection");
        const [described] = found.listenFds.value!;
        assert.equal(described!.name, "connection");
        assert.equal(described!.type, "stream");
        assert.equal(described!.listening, false);
        assert.deepEqual(described!.address, { family: "inet", address: "127.0.0.1", port });
      } finally {
        await activator.stop();
      }
    });
  }),
);

// ---------------------------------------------------------------- libsystemd as the reference

interface ReferenceCase {
  label: string;
  sockets?: string[];
  env: Record<string, string | null>;
  instructions?: object;
}

interface ReferenceResult {
  label: string;
  libsystemd: { r: number; names: string[] | null; pid: number; pidfdid: number };
  runtime: Report & { unparsed?: string };
  exit: number | null;
}

const EBADF = 9;

/** Runs cases through listen_reference.py: libsystemd, then handover, in the same process. */
async function reference(cases: readonly ReferenceCase[]): Promise<ReferenceResult[]> {
  const [command, argv] = runtimeArgv(REPORT);
  const result = await run("python3", [join(FIXTURES, "listen_reference.py")], {
    input: JSON.stringify({ argv: [command, ...argv], cases }),
    timeoutMs: 15 * 60_000,
  });
  assert.equal(result.code, 0, result.stderr);
  return lastJson<ReferenceResult[]>(result);
}

const ours = (extra: Record<string, string | null>): Record<string, string | null> => ({
  LISTEN_PID: "$PID",
  ...extra,
});

const REFERENCE_CASES: ReferenceCase[] = [
  { label: "one fd, no names", sockets: ["tcp"], env: ours({ LISTEN_FDS: "1" }) },
  { label: "two named fds", sockets: ["tcp", "tcp6"], env: ours({ LISTEN_FDS: "2", LISTEN_FDNAMES: "web:admin" }) },
  {
    label: "stream, datagram and unix fds",
    sockets: ["tcp", "udp", "unix"],
    env: ours({ LISTEN_FDS: "3", LISTEN_FDNAMES: "web:metrics:local" }),
  },
  {
    label: "a::b is three names",
    sockets: ["tcp", "tcp", "tcp"],
    env: ours({ LISTEN_FDS: "3", LISTEN_FDNAMES: "a::b" }),
  },
  { label: "names with spaces", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "2", LISTEN_FDNAMES: "my web:x y" }) },
  { label: "the same name twice", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "2", LISTEN_FDNAMES: "web:web" }) },
  { label: "fewer names than fds", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "2", LISTEN_FDNAMES: "web" }) },
  { label: "more names than fds", sockets: ["tcp"], env: ours({ LISTEN_FDS: "1", LISTEN_FDNAMES: "web:admin" }) },
  { label: "empty names, one fd", sockets: ["tcp"], env: ours({ LISTEN_FDS: "1", LISTEN_FDNAMES: "" }) },
  { label: "empty names, two fds", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "2", LISTEN_FDNAMES: "" }) },
  { label: "only a colon", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "2", LISTEN_FDNAMES: ":" }) },
  { label: "escaped colon", sockets: ["tcp"], env: ours({ LISTEN_FDS: "1", LISTEN_FDNAMES: "a\\:b" }) },
  { label: "trailing backslash", sockets: ["tcp"], env: ours({ LISTEN_FDS: "1", LISTEN_FDNAMES: "web\\" }) },
  {
    label: "trailing backslash, another process",
    sockets: ["tcp"],
    env: { LISTEN_PID: "1", LISTEN_FDS: "1", LISTEN_FDNAMES: "web\\" },
  },
  { label: "LISTEN_FDS=0", sockets: ["tcp"], env: ours({ LISTEN_FDS: "0" }) },
  { label: "LISTEN_FDS=-1", sockets: ["tcp"], env: ours({ LISTEN_FDS: "-1" }) },
  { label: "LISTEN_FDS=abc", sockets: ["tcp"], env: ours({ LISTEN_FDS: "abc" }) },
  { label: "LISTEN_FDS empty", sockets: ["tcp"], env: ours({ LISTEN_FDS: "" }) },
  { label: "LISTEN_FDS beyond long", sockets: ["tcp"], env: ours({ LISTEN_FDS: "99999999999999999999" }) },
  { label: "LISTEN_FDS beyond int", sockets: ["tcp"], env: ours({ LISTEN_FDS: "99999999999" }) },
  { label: "LISTEN_FDS = INT_MAX - 2", sockets: ["tcp"], env: ours({ LISTEN_FDS: "2147483645" }) },
  { label: "LISTEN_FDS = INT_MAX - 3, fds not open", sockets: ["tcp"], env: ours({ LISTEN_FDS: "2147483644" }) },
  { label: "LISTEN_FDS counts 62 fds that are not open", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "64" }) },
  { label: "LISTEN_FDS with a leading space", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: " 2" }) },
  { label: "LISTEN_FDS with a trailing space", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "2 " }) },
  { label: "LISTEN_FDS with a space inside", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "1 1" }) },
  { label: "LISTEN_FDS in hex", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "0x2" }) },
  { label: "LISTEN_FDS in octal", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "02" }) },
  { label: "LISTEN_FDS in binary", sockets: ["tcp", "tcp"], env: ours({ LISTEN_FDS: "0b10" }) },
  { label: "LISTEN_FDS with a plus", sockets: ["tcp"], env: ours({ LISTEN_FDS: "+1" }) },
  { label: "fewer fds counted than passed", sockets: ["tcp", "tcp", "tcp"], env: ours({ LISTEN_FDS: "1" }) },
  { label: "LISTEN_FDS missing", sockets: ["tcp"], env: ours({}) },
  { label: "LISTEN_PID missing", sockets: ["tcp"], env: { LISTEN_FDS: "1", LISTEN_FDNAMES: "web" } },
  { label: "LISTEN_PID is another process", sockets: ["tcp"], env: { LISTEN_PID: "1", LISTEN_FDS: "1" } },
  { label: "LISTEN_PID garbage", sockets: ["tcp"], env: { LISTEN_PID: "abc", LISTEN_FDS: "1" } },
  { label: "LISTEN_PID empty", sockets: ["tcp"], env: { LISTEN_PID: "", LISTEN_FDS: "1" } },
  { label: "LISTEN_PID negative", sockets: ["tcp"], env: { LISTEN_PID: "-5", LISTEN_FDS: "1" } },
  { label: "LISTEN_PID zero", sockets: ["tcp"], env: { LISTEN_PID: "0", LISTEN_FDS: "1" } },
  { label: "LISTEN_PID with a leading space", sockets: ["tcp"], env: { LISTEN_PID: " $PID", LISTEN_FDS: "1" } },
  { label: "LISTEN_PID with a trailing space", sockets: ["tcp"], env: { LISTEN_PID: "$PID ", LISTEN_FDS: "1" } },
  { label: "LISTEN_PID in octal", sockets: ["tcp"], env: { LISTEN_PID: "$PID_OCT", LISTEN_FDS: "1" } },
  { label: "LISTEN_PID in hex", sockets: ["tcp"], env: { LISTEN_PID: "$PID_HEX", LISTEN_FDS: "1" } },
  { label: "another process, garbage count", sockets: ["tcp"], env: { LISTEN_PID: "1", LISTEN_FDS: "abc" } },
];

for (const { entry, title } of ENTRIES) {
  it(
    `listenFds() and collect() agree with libsystemd's sd_listen_fds_with_names() on ${REFERENCE_CASES.length} environments${title}`,
    guarded(async () => {
      const cases = REFERENCE_CASES.map((c) => ({ ...c, instructions: { entry, collect: ["web"] } }));
      const results = await reference(cases);
      assert.equal(results.length, cases.length);
      const problems: string[] = [];
      for (const { label, libsystemd, runtime, exit } of results) {
        const where = `${label}: libsystemd ${JSON.stringify(libsystemd)}, handover ${JSON.stringify(runtime)}`;
        if (exit !== 0 || runtime.listenFds === undefined) {
          problems.push(`${where}: the runtime exited ${exit}`);
          continue;
        }
        const listed = runtime.listenFds;
        const collected = runtime.collected.web!;
        if (runtime.fdsLeft.length > 0) problems.push(`${where}: fds left open: ${runtime.fdsLeft}`);
        if (entry === "activation" && JSON.stringify(runtime.bound) !== '["fcntl"]' && libsystemd.r > 0) {
          problems.push(`${where}: the start-up entry bound ${runtime.bound}, not fcntl alone`);
        }
        // Whatever the outcome, the variables are gone afterwards, as with sd_listen_fds(1).
        if (Object.keys(runtime.environmentAfter).length > 0 || runtime.cEnvironmentAfter.length > 0) {
          problems.push(`${where}: environment not unset`);
        }
        if (libsystemd.r < 0) {
          const code = -libsystemd.r === EBADF ? "EBADF" : "EINVAL";
          if (listed.ok || listed.code !== code) problems.push(`${where}: expected ${code}`);
          else if (!/LISTEN_(PID|FDS|FDNAMES)\b/.test(listed.message!)) {
            problems.push(`${where}: message names no variable`);
          }
          if (collected.code !== code) problems.push(`${where}: collect() should throw ${code} too`);
          if (runtime.activatedBefore !== true) problems.push(`${where}: isActivated() should be true`);
        } else if (libsystemd.r === 0) {
          if (!listed.ok || listed.value!.length !== 0) problems.push(`${where}: expected no fds`);
          if (collected.code !== "ESRCH") problems.push(`${where}: collect() should throw ESRCH`);
          if (runtime.activatedBefore !== false) problems.push(`${where}: isActivated() should be false`);
        } else {
          const fds = listed.value?.map((d) => d.fd);
          const names = listed.value?.map((d) => d.name);
          const expectedFds = Array.from({ length: libsystemd.r }, (_, i) => 3 + i);
          if (!listed.ok) problems.push(`${where}: expected fds`);
          else if (JSON.stringify(fds) !== JSON.stringify(expectedFds)) problems.push(`${where}: fds differ`);
          else if (JSON.stringify(names) !== JSON.stringify(libsystemd.names)) problems.push(`${where}: names differ`);
          else if (!listed.value!.every((d) => d.closeOnExec)) problems.push(`${where}: an fd is not close-on-exec`);
          const webFds = expectedFds.filter((_, i) => libsystemd.names![i] === "web");
          const expected = webFds.length > 0 ? JSON.stringify({ ok: true, value: webFds }) : "ENOENT";
          const got = collected.ok ? JSON.stringify(collected) : collected.code;
          if (got !== expected) problems.push(`${where}: collect("web") gave ${got}, expected ${expected}`);
        }
      }
      assert.deepEqual(problems, []);
    }),
  );
}

for (const { entry, title } of ENTRIES) {
  it(
    `LISTEN_PIDFDID: the pidfd inode of this process is accepted, another one means the fds are not for us, garbage is EINVAL${title}`,
    guarded(async () => {
      const results = await reference([
        { label: "own", sockets: ["tcp"], env: ours({ LISTEN_FDS: "1", LISTEN_PIDFDID: "$PIDFDID" }) },
        { label: "other", sockets: ["tcp"], env: ours({ LISTEN_FDS: "1", LISTEN_PIDFDID: "1" }) },
        { label: "garbage", sockets: ["tcp"], env: ours({ LISTEN_FDS: "1", LISTEN_PIDFDID: "x1" }) },
      ].map((c) => ({ ...c, instructions: { entry, collect: ["unknown"] } })));
      const [own, other, garbage] = results.map((r) => r.runtime);
      // The pidfd opened to learn our own inode is closed again.
      assert.deepEqual(results.map((r) => r.runtime.fdsLeft), [[], [], []]);
      // The start-up entry loads the pidfd check when LISTEN_PIDFDID is set: pidfd_open(2) through syscall(2).
      if (entry === "activation") {
        for (const r of [own, other]) assert.ok(r!.bound?.includes("syscall"), JSON.stringify(r!.bound));
      }
      assert.equal(own!.listenFds.value!.length, 1);
      assert.deepEqual(own!.collected.unknown, { ok: true, value: [3] });
      assert.equal(own!.environmentAfter.LISTEN_PIDFDID, undefined);
      assert.equal(results[0]!.libsystemd.pidfdid > 0, true, "the kernel has pidfs (Linux 6.9+)");
      assert.deepEqual(other!.listenFds.value, []);
      assert.equal(other!.collected.unknown!.code, "ESRCH");
      assert.match(other!.collected.unknown!.message!, /LISTEN_PIDFDID is 1, not the pidfd of this process/);
      assert.equal(garbage!.collected.unknown!.code, "EINVAL");
      assert.match(garbage!.collected.unknown!.message!, /^LISTEN_PIDFDID is "x1"/);
    }),
  );
}

it(
  "lenient mode accepts a missing LISTEN_PID (systemfd --no-pid) and LISTEN_FDS_FIRST_FD; strict mode does not",
  guarded(async () => {
    const noPid = { LISTEN_FDS: "2", LISTEN_FDNAMES: "web:admin" };
    const firstFd = ours({ LISTEN_FDS: "1", LISTEN_FDS_FIRST_FD: "4" });
    const results = await reference([
      { label: "strict, no pid", sockets: ["tcp", "tcp"], env: noPid, instructions: { collect: ["web"] } },
      {
        label: "lenient, no pid",
        sockets: ["tcp", "tcp"],
        env: noPid,
        instructions: { collect: ["web"], options: { lenient: true } },
      },
      {
        label: "lenient, first fd 4",
        sockets: ["udp", "tcp"],
        env: firstFd,
        instructions: { collect: ["unknown"], options: { lenient: true } },
      },
      {
        label: "lenient, first fd garbage",
        sockets: ["tcp"],
        env: ours({ LISTEN_FDS: "1", LISTEN_FDS_FIRST_FD: "x" }),
        instructions: { collect: ["unknown"], options: { lenient: true } },
      },
      { label: "strict, first fd 4", sockets: ["udp", "tcp"], env: firstFd, instructions: { collect: ["unknown"] } },
    ]);
    const [strict, lenient, first, garbage, strictFirst] = results.map((r) => r.runtime);
    assert.equal(strict!.collected.web!.code, "ESRCH");
    assert.deepEqual(lenient!.collected.web, { ok: true, value: [3] });
    assert.deepEqual(lenient!.listenFds.value!.map((d) => [d.fd, d.name]), [[3, "web"], [4, "admin"]]);
    assert.deepEqual(first!.collected.unknown, { ok: true, value: [4] });
    assert.equal(first!.listenFds.value![0]!.type, "stream");
    assert.deepEqual(first!.environmentAfter, {});
    assert.equal(garbage!.collected.unknown!.code, "EINVAL");
    assert.match(garbage!.collected.unknown!.message!, /^LISTEN_FDS_FIRST_FD is "x"/);
    // libsystemd ignores LISTEN_FDS_FIRST_FD, and so does strict mode.
    assert.deepEqual(strictFirst!.collected.unknown, { ok: true, value: [3] });
    assert.equal(strictFirst!.listenFds.value![0]!.type, "dgram");
  }),
);

it(
  "unsetEnvironment: false keeps the variables for children; the default removes them",
  guarded(async () => {
    const env = ours({ LISTEN_FDS: "1", LISTEN_FDNAMES: "web" });
    const results = await reference([
      { label: "keep", sockets: ["tcp"], env, instructions: { options: { unsetEnvironment: false }, children: true } },
      { label: "unset", sockets: ["tcp"], env, instructions: { children: true } },
    ]);
    const [kept, unset] = results.map((r) => r.runtime);
    const pid = String(kept!.pid);
    assert.deepEqual(kept!.environmentAfter, { LISTEN_PID: pid, LISTEN_FDS: "1", LISTEN_FDNAMES: "web" });
    assert.deepEqual(kept!.childEnvironment, { LISTEN_PID: pid, LISTEN_FDS: "1", LISTEN_FDNAMES: "web" });
    assert.deepEqual(kept!.cEnvironmentAfter, ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]);
    assert.deepEqual(unset!.environmentAfter, {});
    assert.deepEqual(unset!.cEnvironmentAfter, []);
    assert.deepEqual(unset!.childEnvironment, {});
    if (RUNTIME === "deno") assert.deepEqual(unset!.denoChildEnvironment, {});
    if (RUNTIME === "bun") assert.deepEqual(unset!.bunChildEnvironment!.processEnv, {});
  }),
);

// ---------------------------------------------------------------- launchd

let standIn: string | undefined;

async function buildStandIn(): Promise<string> {
  if (standIn !== undefined) return standIn;
  const directory = mkdtempSync(join(tmpdir(), "handover-launchd-"));
  const library = join(directory, "liblaunchd_stand_in.so");
  const result = await run("gcc", [
    "-shared",
    "-fPIC",
    "-Wall",
    "-Werror",
    "-o",
    library,
    join(FIXTURES, "launchd_stand_in.c"),
    "-ldl",
  ]);
  assert.equal(result.code, 0, result.stderr);
  standIn = library;
  standInDirectory = directory;
  return library;
}

let standInDirectory: string | undefined;
after(() => {
  if (standInDirectory !== undefined) rmSync(standInDirectory, { recursive: true, force: true });
});

interface LaunchdReport {
  results: {
    name: string;
    ok: boolean;
    fds?: Described[];
    code?: string;
    errno?: number;
    syscall?: string;
    message?: string;
  }[];
  standIn?: { calls: number; outstanding: number; freed: number };
  listenFds: number;
  isActivated: boolean;
}

async function launchdReport(names: string[], env: Record<string, string>): Promise<LaunchdReport> {
  const [command, argv] = runtimeArgv(join(FIXTURES, "launchd_report.ts"));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !VARIABLES.includes(k)));
  const result = await run(command, [...argv, JSON.stringify(names)], { env: { ...clean, ...env } });
  assert.equal(result.code, 0, result.stderr);
  return lastJson<LaunchdReport>(result);
}

it(
  "launchd: launch_activate_socket() through FFI returns two fds, frees the array once, then EALREADY and ENOENT",
  guarded(async () => {
    const library = await buildStandIn();
    const found = await launchdReport(["web", "web", "taken", "other"], { HANDOVER_LAUNCHD_LIBRARY: library });
    const [web, again, taken, other] = found.results;
    assert.equal(web!.ok, true, web!.message);
    assert.equal(web!.fds!.length, 2);
    for (const fd of web!.fds!) {
      assert.equal(fd.type, "stream");
      assert.equal(fd.listening, true);
      assert.equal(fd.address.address, "127.0.0.1");
      assert.equal(fd.closeOnExec, true);
    }
    assert.notEqual(web!.fds![0]!.address.port, web!.fds![1]!.address.port);
    // Our own bookkeeping answers the second call; launchd's answers for a socket taken before.
    assert.equal(again!.code, "EALREADY");
    assert.equal(again!.syscall, undefined);
    assert.deepEqual([taken!.code, taken!.errno, taken!.syscall], ["EALREADY", 114, "launch_activate_socket"]);
    assert.deepEqual([other!.code, other!.errno, other!.syscall], ["ENOENT", 2, "launch_activate_socket"]);
    assert.match(other!.message!, /launchd has no socket named "other"/);
    assert.deepEqual(found.standIn, { calls: 3, outstanding: 0, freed: 1 });
    assert.equal(found.listenFds, 0);
    assert.equal(found.isActivated, false);
  }),
);

it(
  "launchd: ESRCH from launch_activate_socket() when launchd did not start the process; nothing to free",
  guarded(async () => {
    const library = await buildStandIn();
    const found = await launchdReport(["web"], { HANDOVER_LAUNCHD_LIBRARY: library, STAND_IN_MODE: "not-launchd" });
    assert.deepEqual(
      [found.results[0]!.code, found.results[0]!.errno, found.results[0]!.syscall],
      ["ESRCH", 3, "launch_activate_socket"],
    );
    assert.match(found.results[0]!.message!, /^Not started by a service manager: launch_activate_socket\("web"\)/);
    assert.deepEqual(found.standIn, { calls: 1, outstanding: 0, freed: 0 });
  }),
);

it(
  "launchd: the LISTEN_FDS environment wins over launchd, and without launchd collect() throws ESRCH",
  guarded(async () => {
    const library = await buildStandIn();
    const withEnvironment = await reference([{
      label: "environment and launchd",
      sockets: ["tcp"],
      env: ours({ LISTEN_FDS: "1", LISTEN_FDNAMES: "web", HANDOVER_LAUNCHD_LIBRARY: library }),
      instructions: { collect: ["web"] },
    }]);
    assert.deepEqual(withEnvironment[0]!.runtime.collected.web, { ok: true, value: [3] });
    const without = await launchdReport(["web"], {});
    assert.equal(without.results[0]!.code, "ESRCH");
    assert.equal(without.standIn, undefined);
  }),
);
