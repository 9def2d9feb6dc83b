// handover up with the five apps of examples/up/handover.json (Deno, Bun and Node; ports 0, every app on demand):
// the launcher's RSS and CPU while the apps wait and while they run idle, and each app's cold start, first
// connect to first byte (the runtime's start-up included). Needs `npm run build` (runs dist/cli.js in Node).
//   node bench/up.bench.mjs [--rounds N]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const roundsAt = process.argv.indexOf("--rounds");
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 3;
const example = JSON.parse(readFileSync(join(root, "examples", "up", "handover.json"), "utf8"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
  const launcher = spawn(process.execPath, [join(root, "dist", "cli.js"), "up"], {
    cwd: dir,
    env: { ...process.env, XDG_RUNTIME_DIR: dir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  launcher.stderr.setEncoding("utf8").on("data", (d) => stderr += d);
  while ((stderr.match(/waiting for the first connection/g) ?? []).length < config.apps.length) await sleep(20);
  await sleep(500);
  const waiting = { ...usage(launcher.pid), cpu: await cpuShare(launcher.pid, 3000) };
  const ports = [...stderr.matchAll(/^(\S+) +\| ~> socket http:\/\/127\.0\.0\.1:(\d+)\/$/gm)].map((m) => [m[1], +m[2]]);
  const cold = {};
  for (const [name, port] of ports) cold[name] = await firstByte(port);
  await sleep(3000);
  const running = { ...usage(launcher.pid), cpu: await cpuShare(launcher.pid, 3000) };
  launcher.kill("SIGTERM");
  await new Promise((resolve) => launcher.on("close", resolve));
  rmSync(dir, { recursive: true, force: true });
  results.push({ waiting, running, cold });
}

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`handover up, 5 apps of examples/up (on demand), median of ${rounds} rounds`);
console.log(`launcher RSS, apps waiting:  ${median(results.map((r) => r.waiting.rss)).toFixed(1)} MiB`);
console.log(`launcher RSS, apps running:  ${median(results.map((r) => r.running.rss)).toFixed(1)} MiB`);
console.log(`launcher CPU, apps waiting:  ${(median(results.map((r) => r.waiting.cpu)) * 100).toFixed(2)} %`);
console.log(`launcher CPU, apps idle:     ${(median(results.map((r) => r.running.cpu)) * 100).toFixed(2)} %`);
for (const name of Object.keys(results[0].cold)) {
  const app = example.apps.find((a) => a.name === name);
  console.log(
    `cold start ${name.padEnd(7)} (${app.command.slice(0, app.command[0] === "node" ? 3 : 1).join(" ")}): ${
      median(results.map((r) => r.cold[name])).toFixed(1)
    } ms to the first byte`,
  );
}
