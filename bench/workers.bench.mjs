#!/usr/bin/env node
// handover --workers N, in one run (issue 17), with wrk pinned to core 0 (`taskset -c 0`) on a 2-core machine:
// - fairness: the share of requests each of 2 workers answers (max/min), in shared mode with EPOLLEXCLUSIVE (the
//   default), shared without it (HANDOVER_EPOLLEXCLUSIVE=0) and reuseport, with keep-alive connections (wrk's default)
//   and with a connection per request (`Connection: close`);
// - CPU µs per request of the workers (utime+stime from /proc over the run / requests), each mode against 1 worker;
// - throughput (req/s) of the same rows, from a wrk run of its own without the counting script (wrk's Lua
//   response() callback costs wrk more CPU per answer than the servers spend, so counting runs measure wrk), beside `deno serve --parallel` (DENO_JOBS=2), 2 Bun processes with
//   `reusePort: true` and Node's `cluster` with 2 workers;
// - rolling restarts under load: failed requests while SIGHUP restarts both workers one at a time, twice.
// The apps are Deno.serve, Bun.serve and node:http through handover's serve(), answering "worker I pid P".
// Each row is the median of ROUNDS rounds; a round starts every tool afresh, in turn. BENCH_PIN=1 pins every server
// (the launcher and its workers, each runtime's own tool) to core 1, so 1 and 2 workers have the same core to
// themselves and wrk the other: the CPU per request then compares the modes, not how much wrk takes from them.
//   node bench/workers.bench.mjs  (BENCH_MODES=shared BENCH_ROUNDS=3 BENCH_SECONDS=4 BENCH_CONNECTIONS=16 BENCH_ONLY=deno,bun,node BENCH_RESTARTS=2 BENCH_PIN=1)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// BENCH_MODES="shared" (labels that start so): only those handover rows, without the other tools and restarts.
const MODES = process.env.BENCH_MODES?.split(",");
const ONLY = (process.env.BENCH_ONLY ?? "deno,bun,node").split(",");
const PIN = process.env.BENCH_PIN === "1";
/** A server's argv, pinned to core 1 with BENCH_PIN=1. */
const pinned = (argv) => PIN ? ["taskset", "-c", "1", ...argv] : argv;
const work = join(root, "bench", ".out", `workers-${process.pid}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

if (spawnSync("wrk", ["--version"]).error) {
  console.log("wrk is not installed: skipped");
  process.exit(0);
}
if (!existsSync(join(root, "dist", "cli.cjs"))) spawnSync(bin("tsup"), [], { cwd: root, stdio: "inherit" });
mkdirSync(work, { recursive: true });

const runtimes = {
  deno: { argv: (file) => [bin("deno"), "run", "-A", "--no-check", file], build: "mod.ts" },
  bun: { argv: (file) => [bin("bun"), file], build: "dist/bun.js" },
  node: { argv: (file) => [process.execPath, file], build: "dist/node.js" },
};

/**
 * The worker app of docs/launcher.md (workers_app.ts), importing the build each runtime's users get: `serve()` in
 * Deno and Bun (Deno.serve, Bun.serve, as `deno serve` and Bun's own processes run); in Node the same `node:http`
 * handler as the `node:cluster` row, adopted with `adopt()` (docs/serving.md), so that both rows run the same server
 * and differ only in how the workers share the socket (`serve()` in Node adds the fetch API's Request and Response).
 */
function workerApp(runtime) {
  const url = pathToFileURL(join(root, runtimes[runtime].build)).href;
  const path = join(work, `worker_${runtime}.${runtime === "deno" ? "ts" : "mjs"}`);
  writeFileSync(
    path,
    runtime === "node"
      ? `import http from "node:http";
import process from "node:process";
import { adopt, ready } from ${JSON.stringify(url)};
const worker = process.env.WORKER_INDEX ?? "0";
await adopt(http.createServer((_q, r) => r.end(\`worker \${worker} pid \${process.pid}\\n\`)), "web");
await ready();
`
      : `import process from "node:process";
import { ready, serve } from ${JSON.stringify(url)};
const worker = process.env.WORKER_INDEX ?? "0";
await serve(() => new Response(\`worker \${worker} pid \${process.pid}\\n\`), { name: "web", port: 8080 });
await ready();
`,
  );
  return path;
}

/** The same answer from each runtime's own way to use 2 cores, on PORT. */
function ownWayApp(runtime) {
  const code = {
    // deno serve --parallel: a default export with fetch.
    // Its workers are isolates in one process: each names itself.
    deno: `const id = crypto.randomUUID().slice(0, 8);
export default { fetch: () => new Response(\`worker x pid \${id}\\n\`) };`,
    bun: `Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.PORT), reusePort: true,
  fetch: () => new Response(\`worker x pid \${process.pid}\\n\`) });`,
    node: `import cluster from "node:cluster";
import http from "node:http";
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  process.on("SIGTERM", () => { for (const w of Object.values(cluster.workers)) w.kill(); process.exit(0); });
} else {
  http.createServer((_q, r) => r.end(\`worker \${cluster.worker.id} pid \${process.pid}\\n\`))
    .listen(Number(process.env.PORT), "127.0.0.1");
}`,
  }[runtime];
  const path = join(work, `own_${runtime}.${runtime === "deno" ? "ts" : "mjs"}`);
  writeFileSync(path, code);
  return path;
}

// Counts the answers by body, per wrk thread, and prints them as JSON after wrk's report.
const lua = join(work, "count.lua");
writeFileSync(
  lua,
  `local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body)
  local key = tostring(status) .. " " .. (body or "")
  counts[key] = (counts[key] or 0) + 1
end
function done(summary, latency, requests)
  local parts = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do
      table.insert(parts, string.format("%q:%d", (k:gsub("\\n", "")), v))
    end
  end
  io.write("COUNTS {" .. table.concat(parts, ",") .. "}\\n")
  io.write(string.format("ERRORS %d %d %d %d %d\\n", summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
`,
);

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForAnswer(port, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text().then(() => r.ok), () => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing answers on port ${port}`);
}

/** CPU seconds (utime+stime) of a process and its descendants' threads, from /proc. */
function cpuOf(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
    } catch {
      // gone
    }
  }
  return ticks / TICKS;
}

/** The pids of a process tree (the launcher's or a tool's), from /proc/PID/task/PID/children. */
function tree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      const children = readFileSync(`/proc/${all[i]}/task/${all[i]}/children`, "utf8").trim();
      if (children !== "") all.push(...children.split(" ").map(Number));
    } catch {
      // gone
    }
  }
  return all;
}

/** wrk pinned to core 0 against PORT; with `count`, answers counted by body (a slower wrk). */
function wrk(port, close, count) {
  const args = ["-c", "0", "wrk", "-t1", `-c${CONNECTIONS}`, `-d${SECONDS}s`, ...(count ? ["-s", lua] : [])];
  if (close) args.push("-H", "Connection: close");
  args.push(`http://127.0.0.1:${port}/`);
  const r = spawnSync("taskset", args, { encoding: "utf8", timeout: (SECONDS + 30) * 1000 });
  const counts = JSON.parse(/^COUNTS (.*)$/m.exec(r.stdout)?.[1] ?? "{}");
  const errors = (/^ERRORS (.*)$/m.exec(r.stdout)?.[1] ?? "0 0 0 0 0").split(" ").map(Number);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const requests = count
    ? Object.values(counts).reduce((a, b) => a + b, 0)
    : Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  if (!count) {
    // Without the script only wrk's own error line is there: connect, read, write, timeout; and non-2xx answers.
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
    const [connect, read, , timeout] = socket === null ? [0, 0, 0, 0] : socket.slice(1).map(Number);
    return { counts, requests, rps, errors: connect + timeout + non2xx, readErrors: read };
  }
  // Socket errors of wrk's own closing of connections (read errors with Connection: close) are not failures.
  return { counts, requests, rps, errors: errors[0] + errors[3] + errors[4], readErrors: errors[1] };
}

/** Starts `handover --workers N` for `runtime`; resolves once every worker is ready. */
async function startWorkers(runtime, count, mode, env = {}) {
  const port = await freePort();
  const app = workerApp(runtime);
  const [command, ...argv] = pinned([
    process.execPath,
    join(root, "dist", "cli.cjs"),
    "--workers",
    String(count),
    "--workers-mode",
    mode,
    "-s",
    `web=http::127.0.0.1:${port}`,
    "--",
    ...runtimes[runtime].argv(app),
  ]);
  const child = spawn(command, argv, { stdio: ["ignore", "ignore", "pipe"], env: { ...cleanEnv(), ...env } });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d) => stderr += d);
  const deadline = Date.now() + 60_000;
  while ((stderr.match(/is ready/g) ?? []).length < count) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`workers did not start:\n${stderr}`);
    await sleep(50);
  }
  return {
    port,
    pid: child.pid,
    get stderr() {
      return stderr;
    },
    async stop() {
      child.kill("SIGTERM");
      if (child.exitCode === null) await new Promise((resolve) => child.on("exit", resolve));
    },
  };
}

/** Node in a clean environment (NODE_EXTRA_CA_CERTS alone slows every start); the PATH and HOME kept. */
function cleanEnv() {
  return { PATH: process.env.PATH, HOME: process.env.HOME ?? "/tmp" };
}

/** One wrk run: requests per worker (by WORKER_INDEX), max/min, req/s and worker CPU µs per request. */
function measure(target, close) {
  // With BENCH_PIN the launcher's pid is taskset's, which exec()s the launcher: the same process.
  const pids = tree(target.pid).filter((pid) => pid !== target.pid);
  const before = cpuOf(pids);
  const plain = wrk(target.port, close, false);
  const cpu = cpuOf(pids) - before;
  const result = wrk(target.port, close, true);
  const perWorker = {};
  let failed = plain.errors + result.errors;
  for (const [key, n] of Object.entries(result.counts)) {
    const match = /^200 worker (\S+) pid (\d+)/.exec(key);
    if (!match) {
      failed += n;
      continue;
    }
    const worker = match[1] === "x" ? match[2] : match[1];
    perWorker[worker] = (perWorker[worker] ?? 0) + n;
  }
  const shares = Object.values(perWorker);
  const ratio = shares.length < 2 ? (shares.length === 1 ? Infinity : NaN) : Math.max(...shares) / Math.min(...shares);
  return {
    rps: plain.rps,
    requests: plain.requests,
    failed,
    perWorker,
    ratio,
    cpuUs: plain.requests > 0 ? cpu * 1e6 / plain.requests : NaN,
  };
}

/** Starts a runtime's own way to use 2 cores on a port; resolves once it answers. */
async function startOwnWay(runtime) {
  const port = await freePort();
  const app = ownWayApp(runtime);
  const env = { ...cleanEnv(), PORT: String(port) };
  const children = [];
  const start = (argv, extraEnv = {}) => {
    const [command, ...rest] = pinned(argv);
    children.push(spawn(command, rest, { stdio: "ignore", env: { ...env, ...extraEnv } }));
  };
  if (runtime === "deno") {
    start(
      [bin("deno"), "serve", "-A", "--no-check", "--parallel", "--host", "127.0.0.1", "--port", String(port), app],
      { DENO_JOBS: "2" },
    );
  } else if (runtime === "bun") {
    for (let i = 0; i < 2; i++) start([bin("bun"), app]);
  } else {
    start([process.execPath, app]);
  }
  await waitForAnswer(port);
  await sleep(500); // every process of the tool listening
  // A stand-in "launcher" pid whose children are the tool's processes: measure() leaves the launcher itself out.
  return {
    port,
    pids: () => children.flatMap((c) => tree(c.pid)),
    async stop() {
      for (const c of children) {
        c.kill("SIGTERM");
        if (c.exitCode === null) await new Promise((resolve) => c.on("exit", resolve));
      }
    },
  };
}

function measureOwnWay(tool, close) {
  const pids = tool.pids();
  const before = cpuOf(pids);
  const plain = wrk(tool.port, close, false);
  const cpu = cpuOf(pids) - before;
  const result = wrk(tool.port, close, true);
  const perPid = {};
  let failed = plain.errors + result.errors;
  for (const [key, n] of Object.entries(result.counts)) {
    const match = /^200 worker \S+ pid (\w+)/.exec(key);
    if (!match) failed += n;
    else perPid[match[1]] = (perPid[match[1]] ?? 0) + n;
  }
  const shares = Object.values(perPid);
  return {
    rps: plain.rps,
    requests: plain.requests,
    failed,
    ratio: shares.length < 2 ? Infinity : Math.max(...shares) / Math.min(...shares),
    cpuUs: plain.requests > 0 ? cpu * 1e6 / plain.requests : NaN,
  };
}

/** Rolling restarts under load: SIGHUP RESTARTS times while test/fixtures/http_load.mjs runs. */
async function rolling(runtime, mode) {
  const target = await startWorkers(runtime, 2, mode);
  try {
    const clients = [false, false, false, true, true, true].map((keepAlive) => ({ keepAlive }));
    const load = spawn(process.execPath, [
      join(root, "test", "fixtures", "http_load.mjs"),
      JSON.stringify({ port: target.port, durationMs: 120_000, clients }),
    ], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    load.stdout.setEncoding("utf8").on("data", (d) => out += d);
    await sleep(500);
    for (let round = 1; round <= RESTARTS; round++) {
      process.kill(target.pid, "SIGHUP");
      const deadline = Date.now() + 60_000;
      while ((target.stderr.match(/worker 1: pid \d+ took over/g) ?? []).length < round && Date.now() < deadline) {
        await sleep(50);
      }
      await sleep(300);
    }
    load.kill("SIGINT");
    await new Promise((resolve) => load.on("close", resolve));
    const report = JSON.parse(out.trim().split("\n").at(-1));
    return { ok: report.ok, failed: report.failed, errors: report.errors, max: report.max };
  } finally {
    await target.stop();
  }
}

const fmt = (n, digits = 2) => Number.isFinite(n) ? n.toFixed(digits) : String(n);
const modes = [
  { label: "1 worker", count: 1, mode: "shared", env: {} },
  { label: "shared, EPOLLEXCLUSIVE", count: 2, mode: "shared", env: {} },
  { label: "shared, no EPOLLEXCLUSIVE", count: 2, mode: "shared", env: { HANDOVER_EPOLLEXCLUSIVE: "0" } },
  { label: "reuseport", count: 2, mode: "reuseport", env: {} },
];

console.log(
  `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s pinned to core 0; servers ${
    PIN ? "pinned to core 1" : "unpinned"
  }; keep-alive and Connection: close; req/s and CPU from a wrk run without the counting script, shares from one with it\n`,
);
const samples = new Map();
const record = (runtime, tool, close, r) => {
  const key = JSON.stringify([runtime, tool, close]);
  if (!samples.has(key)) samples.set(key, { runtime, tool, close, runs: [] });
  samples.get(key).runs.push(r);
};
const median = (values) => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
};
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const runtime of ONLY) {
      for (const m of modes) {
        // Node serves with listen({ fd }): no EPOLLEXCLUSIVE registration to compare.
        if (runtime === "node" && m.label === "shared, no EPOLLEXCLUSIVE") continue;
        if (MODES !== undefined && !MODES.some((prefix) => m.label.startsWith(prefix))) continue;
        const target = await startWorkers(runtime, m.count, m.mode, m.env);
        try {
          await waitForAnswer(target.port);
          for (const close of [false, true]) {
            // Node's listen({ fd }) registers the socket itself, without EPOLLEXCLUSIVE.
            const label = runtime === "node" && m.label.startsWith("shared,") ? "shared" : m.label;
            record(runtime, `handover --workers ${m.count}, ${label}`, close, measure(target, close));
          }
        } finally {
          await target.stop();
        }
      }
      if (MODES !== undefined) continue;
      const tool = await startOwnWay(runtime);
      try {
        const name = { deno: "deno serve --parallel", bun: "Bun reusePort × 2", node: "node:cluster × 2" }[runtime];
        for (const close of [false, true]) record(runtime, name, close, measureOwnWay(tool, close));
      } finally {
        await tool.stop();
      }
    }
  }
  const rows = [...samples.values()].map((s) => ({
    runtime: s.runtime,
    tool: s.tool,
    close: s.close,
    rps: median(s.runs.map((r) => r.rps)),
    ratio: median(s.runs.map((r) => r.ratio)),
    ratios: s.runs.map((r) => fmt(r.ratio)).join(" "),
    cpuUs: median(s.runs.map((r) => r.cpuUs)),
    failed: s.runs.reduce((sum, r) => sum + r.failed, 0),
  }));
  console.log(`median of ${ROUNDS} rounds (max/min share of each round in brackets)\n`);
  console.log("| runtime | tool | connections | req/s | max/min share | CPU µs/req | vs 1 worker | failed |");
  console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const base = rows.find((b) => b.runtime === r.runtime && b.close === r.close && b.tool.includes("1 worker"));
    console.log(
      `| ${r.runtime} | ${r.tool} | ${r.close ? "per request" : "keep-alive"} | ${Math.round(r.rps)} | ${
        r.tool.includes("1 worker") ? "—" : `${fmt(r.ratio)} (${r.ratios})`
      } | ${fmt(r.cpuUs, 1)} | ${base && base !== r ? fmt(r.cpuUs / base.cpuUs) : ""} | ${r.failed} |`,
    );
  }
  console.log(`\nrolling restarts: SIGHUP × ${RESTARTS} to handover --workers 2 under 6 clients (3 keep-alive)\n`);
  console.log("| runtime | mode | answered | failed | max latency ms |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const runtime of MODES === undefined ? ONLY : []) {
    for (const mode of ["shared", "reuseport"]) {
      const r = await rolling(runtime, mode);
      console.log(
        `| ${runtime} | ${mode} | ${r.ok} | ${r.failed}${r.failed ? ` ${JSON.stringify(r.errors)}` : ""} | ${r.max} |`,
      );
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
