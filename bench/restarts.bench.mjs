#!/usr/bin/env node
// Restarts under load, handover against the dev-reload tools users have today, in one run:
// - handover --watch with serve() (docs/serving.md's serve_app.ts) and with adopt() of each runtime's own
//   server (deno_adopt.ts, bun_adopt.ts, node_adopt.ts), in Deno, Bun and Node;
// - node --watch, deno run --watch, bun --watch and nodemon, each serving the same handler on a port of its own.
// Each row: a quiet period (no restart), then RESTARTS changes of the watched file, one every PACE ms, under
// 4 clients (2 open a connection per request, 2 keep one alive; a third of the requests take 100 ms).
// Prints failed requests and p99/max latency during the restarts and the quiet period.
//   node bench/restarts.bench.mjs            (BENCH_RESTARTS=20 BENCH_PACE_MS=1000 BENCH_QUIET_MS=5000 BENCH_ONLY="handover,nodemon": rows whose tool starts so)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 20);
const PACE_MS = Number(process.env.BENCH_PACE_MS ?? 1000);
const QUIET_MS = Number(process.env.BENCH_QUIET_MS ?? 5000);
const ONLY = process.env.BENCH_ONLY;
const work = join(root, "bench", ".out", `restarts-${process.pid}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (!existsSync(join(root, "dist", "cli.cjs"))) spawnSync(bin("tsup"), [], { cwd: root, stdio: "inherit" });

/** A fenced block of docs/serving.md by its first-line name, importing the build each runtime's users get. */
function docApp(name, runtime, file) {
  const text = readFileSync(join(root, "docs", "serving.md"), "utf8");
  const block = [...text.matchAll(/^```(?:ts|js)[^\n]*\n([\s\S]*?)^```$/gm)].map((m) => m[1]).find((code) =>
    code.startsWith(`// ${name}\n`)
  );
  const build = { node: "dist/node.js", bun: "dist/bun.js", deno: "mod.ts" }[runtime];
  const path = join(work, file);
  writeFileSync(
    path,
    block.replace(/"(?:@handover\/handover|handover)"/g, JSON.stringify(pathToFileURL(join(root, build)).href)),
  );
  return path;
}

/** The same handler on a port of its own, for the watch tools. */
function ownPortApp(runtime, file) {
  const slow = `if (new URL(request.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 100));`;
  const code = {
    node: `import http from "node:http";
http.createServer((request, response) => setTimeout(() => response.end("hello\\n"), request.url === "/slow" ? 100 : 0))
  .listen(Number(process.env.PORT), "127.0.0.1");`,
    deno: `Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.env.get("PORT")) }, async (request) => {
  ${slow}
  return new Response("hello\\n");
});`,
    bun: `Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.PORT), async fetch(request) {
  ${slow}
  return new Response("hello\\n");
} });`,
  }[runtime];
  const path = join(work, file);
  writeFileSync(path, code);
  return path;
}

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

function load(port, durationMs) {
  const clients = [{ keepAlive: false }, { keepAlive: false }, { keepAlive: true }, { keepAlive: true }];
  const child = spawn(process.execPath, [
    join(root, "test", "fixtures", "http_load.mjs"),
    JSON.stringify({ port, durationMs, clients, slowShare: 1 / 3 }),
  ], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d) => out += d);
  const done = new Promise((resolve) => child.on("close", resolve));
  return {
    async finish() {
      child.kill("SIGINT");
      await done;
      return JSON.parse(out.trim().split("\n").at(-1));
    },
  };
}

async function measure(row) {
  const port = await freePort();
  const child = spawn(row.command[0], row.command.slice(1).map((a) => a.replaceAll("$PORT", String(port))), {
    cwd: work,
    env: { ...process.env, PORT: String(port), NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d) => stderr += d);
  try {
    await waitForAnswer(port);
    await sleep(500);
    const quietLoad = load(port, QUIET_MS);
    await sleep(QUIET_MS);
    const quiet = await quietLoad.finish();
    const busy = load(port, RESTARTS * PACE_MS + 60_000);
    for (let i = 0; i < RESTARTS; i++) {
      await sleep(PACE_MS);
      const now = new Date();
      utimesSync(row.watched, now, now);
    }
    await sleep(Math.max(PACE_MS, 2000));
    const restarts = await busy.finish();
    const started = (stderr.match(/started pid/g) ?? []).length;
    return { quiet, restarts, started };
  } finally {
    // The whole process group: watch tools run the app as a child of their own.
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch { /* gone */ }
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch { /* gone */ }
        resolve();
      }, 15_000);
      child.on("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const launcher = [process.execPath, join(root, "dist", "cli.cjs"), "-q", "-s", "web=http::$PORT", "-w"];
const runtimes = {
  node: (file) => [process.execPath, file],
  deno: (file) => [bin("deno"), "run", "-A", file],
  bun: (file) => [bin("bun"), file],
};
const adoptApp = { node: "node_adopt.ts", deno: "deno_adopt.ts", bun: "bun_adopt.ts" };
const rows = [];
for (const runtime of ["deno", "bun", "node"]) {
  const ext = runtime === "node" ? "mjs" : "ts";
  for (
    const [label, name] of [["serve()", "serve_app.ts"], [
      `adopt() ${adoptApp[runtime].split("_")[0]}`,
      adoptApp[runtime],
    ]]
  ) {
    const file = docApp(name, runtime, `${runtime}-${name.replace(".ts", "")}.${ext}`);
    rows.push({
      tool: `handover --watch, ${label}`,
      runtime,
      watched: file,
      command: [...launcher, file, "--", ...runtimes[runtime](file)],
    });
  }
}
const own = (runtime) => ownPortApp(runtime, `${runtime}-own.${runtime === "node" ? "mjs" : "ts"}`);
rows.push({
  tool: "node --watch",
  runtime: "node",
  watched: own("node"),
  command: [process.execPath, "--watch", own("node")],
});
rows.push({
  tool: "deno run --watch",
  runtime: "deno",
  watched: own("deno"),
  command: [bin("deno"), "run", "-A", "--watch", own("deno")],
});
rows.push({ tool: "bun --watch", runtime: "bun", watched: own("bun"), command: [bin("bun"), "--watch", own("bun")] });
if (existsSync(bin("nodemon"))) {
  rows.push({ tool: "nodemon", runtime: "node", watched: own("node"), command: [bin("nodemon"), "-q", own("node")] });
}

const results = [];
for (const row of rows) {
  if (ONLY !== undefined && !ONLY.split(",").some((only) => row.tool.startsWith(only))) continue;
  const r = await measure(row);
  results.push({ ...row, ...r });
  console.error(`${row.tool} (${row.runtime}): ${JSON.stringify({ quiet: r.quiet, restarts: r.restarts })}`);
}
rmSync(work, { recursive: true, force: true });

console.log(
  `${RESTARTS} restarts, one every ${PACE_MS} ms, under 4 clients (2 per-request connections, 2 keep-alive; 1/3 of requests take 100 ms)\n`,
);
console.log(
  "| tool | runtime | requests | failed | p99 restarts (ms) | max restarts (ms) | p99 quiet (ms) | p99 goal (ms) |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of results) {
  const goal = 2 * r.quiet.p99 + 5;
  console.log(
    `| ${r.tool} | ${r.runtime} | ${
      r.restarts.ok + r.restarts.failed
    } | ${r.restarts.failed} | ${r.restarts.p99} | ${r.restarts.max} | ${r.quiet.p99} | ${goal.toFixed(0)}${
      r.tool.startsWith("handover") ? (r.restarts.p99 <= goal ? " ✓" : " ✗") : ""
    } |`,
  );
}
