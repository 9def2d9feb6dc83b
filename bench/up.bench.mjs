// handover up with the five apps of examples/up/handover.json (Deno, Bun and Node; ports 0, every app on demand):
// the launcher's RSS and CPU while the apps wait and while they run idle, and each app's cold start, first
// connect to first byte (the runtime's start-up included), against the same app started by
// systemd-socket-activate on its first connection, in the same run. Needs `npm run build` (runs dist/cli.cjs in Node).
//   node bench/up.bench.mjs [--rounds N]
// With AUTOSTART_SERVER_DIR set to a checkout of autostart-server (github.com/bredthau/autostart-server: not in the
// npm registry this machine reaches; it has no dependencies), each round also runs the same five apps under it, as
// its `exe` apps (each app on a port of its own, PORT=, which it proxies to after `initTime`, AUTOSTART_INIT_TIME
// seconds, default 1): its RSS and CPU, each app's cold start, and requests per second through it, through handover
// and to the app directly (wrk -t1 -c16 -d3s, the Bun app). It listens on 127.0.0.1 here (its listen(port) would take
// every interface; the runner adds the host, nothing else).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const roundsAt = process.argv.indexOf("--rounds");
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 3;
const example = JSON.parse(readFileSync(join(root, "examples", "up", "handover.json"), "utf8"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The apps' commands name deno, bun and node: the pinned ones first.
const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` };
const SSA = "/usr/bin/systemd-socket-activate";
const AUTOSTART = process.env.AUTOSTART_SERVER_DIR;
const INIT_TIME = Number(process.env.AUTOSTART_INIT_TIME ?? 1);
// How long each launcher is left alone before its memory and CPU are taken, waiting and then running: a launcher
// waits for hours, so what counts is where it settles, not the moment after a start (handover's launcher collects
// its garbage 2 to 6 s after the last start).
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 8000);
const RPS_APP = "admin"; // the Bun app: the fastest server, so the one a proxy slows the most

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The reference: the same app, started by systemd-socket-activate at its first connection; ms to the first byte. */
async function referenceColdStart(app) {
  const port = await freePort();
  const ssa = spawn(SSA, [
    "-l",
    `127.0.0.1:${port}`,
    "--fdname=web",
    ...Object.entries(app.env ?? {}).flatMap(([k, v]) => ["-E", `${k}=${v}`]),
    "-E",
    `PATH=${env.PATH}`,
    "-E",
    `HOME=${env.HOME ?? "/root"}`,
    "--",
    ...app.command,
  ], { cwd: join(root, "examples", "up"), env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  ssa.stderr.setEncoding("utf8").on("data", (d) => stderr += d);
  for (let i = 0; i < 500 && !/Listening on/.test(stderr); i++) await sleep(10);
  const ms = await firstByte(port);
  // Without --accept it execs the app in its own process: this ends the app.
  ssa.kill("SIGTERM");
  await new Promise((resolve) => ssa.on("close", resolve));
  return ms;
}

function firstByte(port) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.get({ host: "127.0.0.1", port, agent: false }, (response) => {
      response.once("data", () => resolve(performance.now() - started));
      response.resume();
    });
    request.on("error", reject);
  });
}

function usage(pid) {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return { rss, ticks: Number(fields[11]) + Number(fields[12]) };
}

async function cpuShare(pid, ms) {
  const before = usage(pid).ticks;
  await sleep(ms);
  return ((usage(pid).ticks - before) / 100) / (ms / 1000);
}

/** Requests per second from wrk against PORT (keep-alive, 16 connections, 3 s, wrk pinned to core 0). */
function rps(port) {
  const r = spawnSync("taskset", ["-c", "0", "wrk", "-t1", "-c16", "-d3s", `http://127.0.0.1:${port}/`], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? "")?.[1] ?? NaN);
}

/** The five apps under autostart-server: RSS and CPU waiting and running, cold starts, req/s through it and direct. */
async function autostartRound() {
  const dir = mkdtempSync(join(tmpdir(), "handover-up-autostart-"));
  const apps = [];
  for (const app of example.apps) {
    const dst = await freePort();
    apps.push({
      name: app.name,
      dir: join(root, "examples", "up"),
      exe: app.command[0],
      params: app.command.slice(1),
      src: await freePort(),
      dst,
      initTime: INIT_TIME,
      options: { env: { ...env, ...app.env, PORT: String(dst) } },
    });
  }
  const runner = join(dir, "runner.cjs");
  writeFileSync(
    runner,
    `const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, ...rest) {
  return typeof port === "number" ? listen.call(this, port, "127.0.0.1", ...rest) : listen.call(this, port, ...rest);
};
const server = require(${JSON.stringify(AUTOSTART)})(${JSON.stringify(apps)});
server.on("error", (e) => console.error("error", e.type, String(e.error)));
process.on("SIGTERM", () => server.close(true).then(() => process.exit(0)));
setTimeout(() => console.log("ready"), 200);
`,
  );
  const child = spawn(process.execPath, [runner], { env, stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (d) => stdout += d);
  while (!stdout.includes("ready")) await sleep(20);
  await sleep(SETTLE_MS);
  const waiting = { ...usage(child.pid), cpu: await cpuShare(child.pid, 3000) };
  const cold = {};
  for (const app of apps) cold[app.name] = await firstByte(app.src);
  await sleep(SETTLE_MS);
  const running = { ...usage(child.pid), cpu: await cpuShare(child.pid, 3000) };
  const app = apps.find((a) => a.name === RPS_APP);
  const through = rps(app.src);
  const direct = rps(app.dst);
  child.kill("SIGTERM");
  await new Promise((resolve) => child.on("close", resolve));
  rmSync(dir, { recursive: true, force: true });
  return { waiting, running, cold, through, direct };
}

const results = [];
for (let round = 0; round < rounds; round++) {
  const dir = mkdtempSync(join(tmpdir(), "handover-up-bench-"));
  const config = {
    apps: example.apps.map((app) => ({
      ...app,
      cwd: join(root, "examples", "up"),
      sockets: ["web=http::0"],
      onDemand: true,
      idleTimeout: "1min",
      watch: undefined,
      readyTimeout: undefined,
    })),
  };
  writeFileSync(join(dir, "handover.json"), JSON.stringify(config));
  const launcher = spawn(process.execPath, [join(root, "dist", "cli.cjs"), "up"], {
    cwd: dir,
    env: { ...env, XDG_RUNTIME_DIR: dir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  launcher.stderr.setEncoding("utf8").on("data", (d) => stderr += d);
  while ((stderr.match(/waiting for the first connection/g) ?? []).length < config.apps.length) await sleep(20);
  await sleep(SETTLE_MS);
  const waiting = { ...usage(launcher.pid), cpu: await cpuShare(launcher.pid, 3000) };
  const ports = [...stderr.matchAll(/^(\S+) +\| ~> socket http:\/\/127\.0\.0\.1:(\d+)\/$/gm)].map((m) => [m[1], +m[2]]);
  const cold = {};
  for (const [name, port] of ports) cold[name] = await firstByte(port);
  await sleep(SETTLE_MS);
  const running = { ...usage(launcher.pid), cpu: await cpuShare(launcher.pid, 3000) };
  const through = AUTOSTART === undefined ? NaN : rps(ports.find(([name]) => name === RPS_APP)[1]);
  launcher.kill("SIGTERM");
  await new Promise((resolve) => launcher.on("close", resolve));
  rmSync(dir, { recursive: true, force: true });
  const reference = {};
  for (const app of example.apps) reference[app.name] = await referenceColdStart(app);
  const autostart = AUTOSTART === undefined ? undefined : await autostartRound();
  results.push({ waiting, running, cold, reference, through, autostart });
}

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`handover up, 5 apps of examples/up (on demand), median of ${rounds} rounds`);
console.log(`launcher RSS, apps waiting:  ${median(results.map((r) => r.waiting.rss)).toFixed(1)} MiB`);
console.log(`launcher RSS, apps running:  ${median(results.map((r) => r.running.rss)).toFixed(1)} MiB`);
console.log(`launcher CPU, apps waiting:  ${(median(results.map((r) => r.waiting.cpu)) * 100).toFixed(2)} %`);
console.log(`launcher CPU, apps idle:     ${(median(results.map((r) => r.running.cpu)) * 100).toFixed(2)} %`);
console.log(
  "\ncold start, first connect to first byte (ms, median): systemd-socket-activate | handover up | difference",
);
for (const name of Object.keys(results[0].cold)) {
  const app = example.apps.find((a) => a.name === name);
  const reference = median(results.map((r) => r.reference[name]));
  const handover = median(results.map((r) => r.cold[name]));
  const difference = handover - reference;
  console.log(
    `${name.padEnd(7)} (${app.command.slice(0, app.command[0] === "node" ? 3 : 1).join(" ")}): ${
      reference.toFixed(1)
    } | ${handover.toFixed(1)} | ${difference >= 0 ? "+" : ""}${difference.toFixed(1)}`,
  );
}

if (AUTOSTART !== undefined) {
  const auto = results.map((r) => r.autostart);
  const row = (label, handover, other, unit, digits = 1) =>
    console.log(
      `${label.padEnd(30)} ${handover.toFixed(digits).padStart(8)} ${other.toFixed(digits).padStart(8)} ${unit}`,
    );
  console.log(`\nhandover up against autostart-server (${AUTOSTART}), same apps, median of ${rounds} rounds`);
  console.log(`${"".padEnd(30)} ${"handover".padStart(8)} ${"autostart".padStart(8)}`);
  row("RSS, apps waiting", median(results.map((r) => r.waiting.rss)), median(auto.map((a) => a.waiting.rss)), "MiB");
  row("RSS, apps running", median(results.map((r) => r.running.rss)), median(auto.map((a) => a.running.rss)), "MiB");
  row(
    "CPU, apps waiting",
    median(results.map((r) => r.waiting.cpu)) * 100,
    median(auto.map((a) => a.waiting.cpu)) * 100,
    "%",
    2,
  );
  row(
    "CPU, apps idle",
    median(results.map((r) => r.running.cpu)) * 100,
    median(auto.map((a) => a.running.cpu)) * 100,
    "%",
    2,
  );
  for (const name of Object.keys(results[0].cold)) {
    row(
      `cold start, ${name}`,
      median(results.map((r) => r.cold[name])),
      median(auto.map((a) => a.cold[name])),
      `ms (initTime ${INIT_TIME} s)`,
    );
  }
  const direct = median(auto.map((a) => a.direct));
  const handoverRps = median(results.map((r) => r.through));
  const autostartRps = median(auto.map((a) => a.through));
  console.log(
    `req/s, ${RPS_APP} (Bun), keep-alive: direct ${Math.round(direct)}, handover ${Math.round(handoverRps)} (${
      (handoverRps / direct).toFixed(2)
    }x), autostart-server ${Math.round(autostartRps)} (${(autostartRps / direct).toFixed(2)}x)`,
  );
}
