#!/usr/bin/env node
// The handover launcher, measured side by side with its references:
//   1. on-demand cold start (connect → first byte) vs systemd-socket-activate;
//   2. requests/s of an app handed its socket by handover vs the same app on
//      its own port vs the same app behind systemd-socket-proxyd (wrk);
//   3. the launcher's own RSS and CPU while idle.
// Medians of interleaved rounds. Node runs with a clean environment
// (NODE_EXTRA_CA_CERTS alone adds ~38 ms to every Node start).
// Usage: node bench/cli.bench.mjs [--quick]   (BENCH_ONLY=cold,throughput,idle; BENCH_ROUNDS=N for throughput)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
const bin = (name) => join(root, "node_modules", ".bin", name);
const NODE = process.execPath;
const APP = join(root, "bench", "apps", "http_fd.mjs");
const SSA = "/usr/bin/systemd-socket-activate";
const PROXYD = "/lib/systemd/systemd-socket-proxyd";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
delete env.NODE_OPTIONS;

// The npm package runs dist/cli.cjs (tsup's bundle), so Node runs that: tsx is not measured.
const bundle = join(root, "dist", "cli.cjs");
if (!existsSync(bundle)) spawnSync(bin("tsup"), [], { cwd: root, stdio: "inherit" });

const launchers = {
  node: [NODE, bundle],
  deno: [bin("deno"), "run", "-A", "--no-check", join(root, "cli.ts")],
  bun: [bin("bun"), join(root, "cli.ts")],
};
const apps = {
  "node:http on fd 3 (Node)": [NODE, APP],
  "node:http on fd 3 (Deno)": [bin("deno"), "run", "-A", "--no-check", APP],
  "serve(): Deno.serve, adopted": [
    bin("deno"),
    "run",
    "-A",
    "--no-check",
    join(root, "bench", "apps", "serve_deno.ts"),
  ],
  "serve(): Bun.serve, adopted": [bin("bun"), join(root, "bench", "apps", "serve_bun.mjs")],
};

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Connect → first byte of the answer, in ms. */
function firstByte(port) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(
      port,
      "127.0.0.1",
      () => socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    socket.once("data", () => {
      resolve(performance.now() - started);
      socket.destroy();
    });
    socket.on("error", reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")));
  });
}

/** A process whose stderr we watch. */
function start(argv, extraEnv = {}) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], env: { ...env, ...extraEnv } });
  child.log = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => child.log += d);
  child.done = new Promise((resolve) => child.on("close", resolve));
  return child;
}

async function waitLog(child, pattern, times = 1, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while ((child.log.match(new RegExp(pattern.source, "gm")) ?? []).length < times) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in: ${child.log}`);
    await sleep(2);
  }
}

async function stop(child) {
  try {
    process.kill(child.pid, "SIGTERM");
  } catch {
    // gone
  }
  await child.done;
}

// ---- 1. cold start ----------------------------------------------------------

async function coldStart() {
  const rounds = quick ? 4 : 10;
  console.log("### 1. On-demand cold start: connect → first byte (ms, median)\n");
  console.log("| app | systemd-socket-activate | handover (node) | handover (deno) | handover (bun) |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const [appName, appArgv] of Object.entries(apps)) {
    const times = { ssa: [], node: [], deno: [], bun: [] };
    const running = {};
    const ports = {};
    for (const [name, argv] of Object.entries(launchers)) {
      const launcher = start([...argv, "--on-demand", "-s", "http::0", "--", ...appArgv], { IDLE_MS: "20" });
      running[name] = launcher;
      await waitLog(launcher, /^~> waiting for the first connection$/m);
      ports[name] = Number(/127\.0\.0\.1:(\d+)/.exec(launcher.log)[1]);
    }
    for (let round = 0; round < rounds; round++) {
      const port = await freePort();
      const ssa = start([SSA, "-l", `127.0.0.1:${port}`, "-E", "IDLE_MS=20", "-E", "PATH", "--", ...appArgv]);
      await waitLog(ssa, /Listening on/);
      times.ssa.push(await firstByte(port));
      await ssa.done;
      for (const name of Object.keys(launchers)) {
        const launcher = running[name];
        times[name].push(await firstByte(ports[name]));
        await waitLog(launcher, /^~> waiting for the first connection$/m, round + 2);
      }
    }
    for (const launcher of Object.values(running)) await stop(launcher);
    const ms = (xs) => median(xs).toFixed(1);
    const delta = (xs) =>
      `${ms(xs)} (${(median(xs) - median(times.ssa) >= 0 ? "+" : "")}${(median(xs) - median(times.ssa)).toFixed(1)})`;
    console.log(
      `| ${appName} | ${ms(times.ssa)} | ${delta(times.node)} | ${delta(times.deno)} | ${delta(times.bun)} |`,
    );
  }
  console.log("");
}

// ---- 2. throughput ----------------------------------------------------------

function wrk(port) {
  const r = spawnSync("wrk", ["-t1", "-c32", `-d${quick ? 2 : 4}s`, `http://127.0.0.1:${port}/`], { encoding: "utf8" });
  const match = /Requests\/sec:\s+([0-9.]+)/.exec(r.stdout);
  if (match === null) throw new Error(`wrk failed: ${r.stdout}${r.stderr}`);
  return Number(match[1]);
}

async function throughput() {
  if (spawnSync("wrk", ["--version"]).error !== undefined) {
    console.log("### 2. Throughput: skipped (install wrk: apt-get install wrk)\n");
    return;
  }
  const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 2 : 3));
  console.log("### 2. Requests/s through the socket handover passed (wrk -t1 -c32, median)\n");
  console.log("| app | started directly | handed over by handover | ratio | behind systemd-socket-proxyd | ratio |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [appName, appArgv] of Object.entries(apps)) {
    const rps = { direct: [], handover: [], proxyd: [] };
    for (let round = 0; round < rounds; round++) {
      const directPort = await freePort();
      const direct = start(appArgv, { PORT: String(directPort) });
      for (let i = 0; i < 500; i++) {
        if (await firstByte(directPort).then(() => true, () => false)) break;
        await sleep(10);
      }
      const measure = {
        direct: () => Promise.resolve(rps.direct.push(wrk(directPort))),
        proxyd: async () => {
          const proxyPort = await freePort();
          const proxy = start([SSA, "-l", `127.0.0.1:${proxyPort}`, "--", PROXYD, `127.0.0.1:${directPort}`]);
          await waitLog(proxy, /Listening on/);
          await firstByte(proxyPort);
          rps.proxyd.push(wrk(proxyPort));
          await stop(proxy);
        },
        handover: async () => {
          const launcher = start([...launchers.node, "-s", "http::0", "--", ...appArgv]);
          await waitLog(launcher, /started pid/);
          const port = Number(/127\.0\.0\.1:(\d+)/.exec(launcher.log)[1]);
          for (let i = 0; i < 500; i++) {
            if (await firstByte(port).then(() => true, () => false)) break;
            await sleep(10);
          }
          rps.handover.push(wrk(port));
          await stop(launcher);
        },
      };
      // Rotate the order each round, so that drift on a shared machine hits every column alike.
      const order = ["direct", "handover", "proxyd"];
      for (let i = 0; i < order.length; i++) await measure[order[(i + round) % order.length]]();
      await stop(direct);
    }
    const d = median(rps.direct);
    const h = median(rps.handover);
    const p = median(rps.proxyd);
    console.log(
      `| ${appName} | ${d.toFixed(0)} | ${h.toFixed(0)} | ${(h / d).toFixed(2)}× | ${p.toFixed(0)} | ${
        (p / d).toFixed(2)
      }× |`,
    );
  }
  console.log("");
}

// ---- 3. idle cost -----------------------------------------------------------

function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMiB(pid) {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1];
  return Number(kb) / 1024;
}

async function idle() {
  const seconds = quick ? 3 : 10;
  const ticks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  console.log(`### 3. The launcher while idle (${seconds} s)\n`);
  console.log("| launcher | state | RSS (MiB) | CPU (% of a core) |");
  console.log("| --- | --- | ---: | ---: |");
  for (const [name, argv] of Object.entries(launchers)) {
    for (const state of ["app running", "on-demand, waiting"]) {
      const args = state === "app running"
        ? [...argv, "-s", "http::0", "--watchdog", "30", "--", "sleep", "60"]
        : [...argv, "--on-demand", "-s", "http::0", "--", "sleep", "60"];
      const launcher = start(args);
      await waitLog(launcher, state === "app running" ? /started pid/ : /waiting for the first connection/);
      await sleep(1000);
      const before = cpuTicks(launcher.pid);
      await sleep(seconds * 1000);
      const used = (cpuTicks(launcher.pid) - before) / ticks;
      const rss = rssMiB(launcher.pid);
      await stop(launcher);
      console.log(`| ${name} | ${state} | ${rss.toFixed(1)} | ${(100 * used / seconds).toFixed(2)} |`);
    }
  }
  console.log("");
}

if (!existsSync(SSA)) console.log(`(${SSA} is missing: the cold start reference cannot run)`);
console.log(
  `machine: ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()} cores, load ${
    readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
  }\n`,
);
// BENCH_ONLY=cold,throughput,idle runs some of the three.
const parts = process.env.BENCH_ONLY?.split(",") ?? ["cold", "throughput", "idle"];
if (parts.includes("cold")) await coldStart();
if (parts.includes("throughput")) await throughput();
if (parts.includes("idle")) await idle();
