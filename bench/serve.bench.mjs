#!/usr/bin/env node
// Serving on an activated socket vs on the server's own port, side by side in one run, per runtime:
// requests per second and server CPU µs per request under wrk (loopback, bounded), A/B interleaved,
// medians reported. The CPU ratio (reference µs / measured µs per request) is the steadier figure on a
// shared machine, where req/s follows whatever else runs. Then first connect -> first byte under systemd-socket-activate vs the same server
// started directly. Knobs: BENCH_SECONDS (per wrk run, default 3), BENCH_ROUNDS (default 3),
// BENCH_CONNECTIONS (default 32), BENCH_ONLY (comma-separated row numbers; 0 is first byte).
// Before/after: BENCH_BASE=/path/to/another/checkout adds that checkout's library (built there with its own tsup;
// this checkout's bench/serve_server.ts, bundled against that dist/ for Bun and Node, importing that jsr/mod.js, or
// mod.ts where it has none, in Deno)
// to the first-byte table as "before", interleaved with this checkout's and the same direct server, and prints both
// against that one reference and their difference.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// A clean environment for every server: NODE_EXTRA_CA_CERTS alone adds about 38 ms to a Node start, and
// systemd-socket-activate passes no environment on, so it would skew the direct side only.
delete process.env.NODE_EXTRA_CA_CERTS;
delete process.env.NODE_OPTIONS;
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const only = process.env.BENCH_ONLY?.split(",").map(Number);
const TICK_US = 1e6 / Number(spawnSync("getconf", ["CLK_TCK"]).stdout.toString().trim() || 100);

// Deno runs the library as JSR serves it (jsr/mod.js; the TypeScript modules in a checkout that builds none);
// Bun and Node run the server bundled against the npm package's build for them (dist/bun.js, dist/node.js), as an
// application from npm would.
const out = join(root, "bench", ".out");
const base = process.env.BENCH_BASE ? resolve(process.env.BENCH_BASE) : undefined;
if (base !== undefined && !existsSync(join(base, "node_modules", ".bin", "tsup"))) {
  console.error(`BENCH_BASE=${base}: no node_modules/.bin/tsup there (link this checkout's node_modules into it)`);
  process.exit(1);
}
const { build } = await import(join(root, "node_modules", "esbuild", "lib", "main.js"));
/**
 * Builds a checkout's npm package and this checkout's bench server against it (the same server script for both
 * checkouts, only the library differs); returns the argv per runtime.
 */
async function serverIn(checkout, folder) {
  mkdirSync(folder, { recursive: true });
  const built = spawnSync(join(checkout, "node_modules", ".bin", "tsup"), [], { cwd: checkout, stdio: "ignore" });
  if (checkout !== root && built.status !== 0) throw new Error(`tsup failed in ${checkout} (exit ${built.status})`);
  let server = join(root, "bench", "serve_server.ts");
  if (checkout !== root) {
    // The other checkout's library under this checkout's server: Deno imports its mod.ts (TypeScript modules).
    const source = readFileSync(server, "utf8");
    if (!source.includes('import("../mod.ts")')) throw new Error(`${server} no longer imports "../mod.ts"`);
    server = join(folder, "serve_server.ts");
    writeFileSync(server, source.replace('import("../mod.ts")', `import(${JSON.stringify(join(checkout, "mod.ts"))})`));
  }
  for (const runtime of ["node", "bun"]) {
    await build({
      entryPoints: [server],
      outfile: join(folder, `serve_server-${runtime}.mjs`),
      bundle: true,
      format: "esm",
      platform: "node",
      target: "es2022",
      external: ["@hono/node-server", "hono", "srvx", "srvx/node", "koffi", "bun:ffi"],
      logLevel: "warning",
      plugins: [{
        name: "npm-build",
        setup(b) {
          b.onResolve({ filter: /\/mod\.ts$/ }, () => ({
            path: join(checkout, "dist", `${runtime}.js`),
            external: true,
          }));
        },
      }],
    });
  }
  // Deno: the library as JSR serves it, the checkout's jsr/mod.js where it builds one, else its mod.ts.
  const jsr = existsSync(join(checkout, "jsr", "mod.js")) ? join(checkout, "jsr", "mod.js") : join(checkout, "mod.ts");
  const denoServer = join(folder, "serve_server-deno.ts");
  writeFileSync(
    denoServer,
    readFileSync(join(root, "bench", "serve_server.ts"), "utf8").replace(
      'import("../mod.ts")',
      `import(${JSON.stringify(jsr)})`,
    ),
  );
  return {
    deno: [join(root, "node_modules", ".bin", "deno"), "run", "-A", "--no-check", denoServer],
    bun: [join(root, "node_modules", ".bin", "bun"), join(folder, "serve_server-bun.mjs")],
    node: [process.execPath, join(folder, "serve_server-node.mjs")],
  };
}
const argv = await serverIn(root, out);
const argvBefore = base === undefined ? undefined : await serverIn(base, join(out, "base"));

for (const tool of ["wrk", "systemd-socket-activate"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    console.error(`${tool} is missing (apt-get install ${tool === "wrk" ? "wrk" : "systemd"})`);
    process.exit(1);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function request(port, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no answer"));
    }, timeoutMs);
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.once("data", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  });
}

/** Starts a server; activated ones behind systemd-socket-activate, woken by a first request. */
async function start(runtime, server, activated) {
  const port = await freePort();
  const [cmd, ...args] = argv[runtime];
  const child = activated
    ? spawn("systemd-socket-activate", [`--listen=127.0.0.1:${port}`, cmd, ...args, server, "activated"], {
      stdio: ["ignore", "pipe", "pipe"],
    })
    : spawn(cmd, [...args, server, `port:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => out += d);
  child.stderr.on("data", (d) => err += d);
  const deadline = Date.now() + 30_000;
  if (activated) {
    while (!err.includes("Listening on") && Date.now() < deadline) await sleep(5);
    await request(port);
  }
  while (!out.includes("ready") && Date.now() < deadline) await sleep(5);
  if (!out.includes("ready")) {
    child.kill("SIGKILL");
    throw new Error(`${runtime} ${server} did not start: ${err}`);
  }
  return { port, pid: child.pid, stop: () => child.kill("SIGKILL") };
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime, all threads
}

function load(port, duration) {
  const before = Date.now();
  const r = spawnSync("wrk", [`-t1`, `-c${connections}`, `-d${duration}s`, `http://127.0.0.1:${port}/`], {
    timeout: (duration + 30) * 1000,
  });
  const text = r.stdout.toString();
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const errors = /Non-2xx|Socket errors/.test(text)
    ? text.split("\n").filter((l) => /errors|Non-2xx/.test(l)).join("; ")
    : "";
  return { requests, ms: Date.now() - before, errors };
}

function measure(server) {
  load(server.port, 1); // warm up
  const t0 = cpuTicks(server.pid);
  const { requests, ms, errors } = load(server.port, seconds);
  const ticks = cpuTicks(server.pid) - t0;
  return { rps: requests / (ms / 1000), usPerReq: (ticks * TICK_US) / Math.max(1, requests), errors };
}

// [label, reference (runtime, server), measured (runtime, server, activated)]
const rows = [
  ["Deno.serve", ["deno", "native"], ["deno", "native", true]],
  ["Bun.serve", ["bun", "native"], ["bun", "native", true]],
  ["node:http (Node, listen({ fd }))", ["node", "native"], ["node", "native", true]],
  ["node:http + @hono/node-server (serve() in Node)", ["node", "fetch-node"], ["node", "fetch-node", true]],
  ["node:http (Node, adopted into libuv)", ["node", "native"], ["node", "node-adopted", true]],
  ["Deno node:http listen({ fd }) vs Deno.serve", ["deno", "native"], ["deno", "node-http", true]],
  ["Bun node:http adopted vs Bun node:http", ["bun", "node-http"], ["bun", "node-http", true]],
  ["Deno serve() fallback (node:http + hono) vs Deno.serve", ["deno", "native"], ["deno", "serve-fallback", true]],
  ["Deno.serve behind the accept-loop fallback", ["deno", "native"], ["deno", "proxy", true]],
  ["Bun.serve behind the accept-loop fallback", ["bun", "native"], ["bun", "proxy", true]],
  ["Node fetch adapter: srvx vs @hono/node-server (own port)", ["node", "fetch-node"], [
    "node",
    "fetch-node-srvx",
    false,
  ]],
];

console.log(
  `wrk -t1 -c${connections} -d${seconds}s, ${rounds} interleaved rounds, medians; CPU = server utime+stime\n`,
);
console.log(
  "| # | server | reference req/s | measured req/s | req/s ratio | reference µs/req | measured µs/req | CPU ratio |",
);
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
const results = [];
for (const [index, [label, ref, test]] of rows.entries()) {
  if (only && !only.includes(index + 1)) continue;
  let a, b;
  try {
    a = await start(ref[0], ref[1], false);
    b = await start(test[0], test[1], test[2]);
    const ra = [], rb = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first so drift in the machine's load hits both alike.
      if (i % 2 === 0) {
        ra.push(measure(a));
        rb.push(measure(b));
      } else {
        rb.push(measure(b));
        ra.push(measure(a));
      }
    }
    const rpsA = median(ra.map((r) => r.rps)), rpsB = median(rb.map((r) => r.rps));
    const cpuA = median(ra.map((r) => r.usPerReq)), cpuB = median(rb.map((r) => r.usPerReq));
    const errors = [...ra, ...rb].map((r) => r.errors).filter(Boolean);
    console.log(
      `| ${index + 1} | ${label} | ${rpsA.toFixed(0)} | ${rpsB.toFixed(0)} | ${(rpsB / rpsA).toFixed(2)} | ${
        cpuA.toFixed(1)
      } | ${cpuB.toFixed(1)} | ${(cpuA / cpuB).toFixed(2)} |${errors.length ? ` errors: ${errors[0]}` : ""}`,
    );
    results.push({ label, ratio: rpsB / rpsA });
  } catch (error) {
    console.log(`| ${index + 1} | ${label} | failed: ${error.message.split("\n")[0]} |||||`);
  } finally {
    a?.stop();
    b?.stop();
  }
}

// First connect -> first byte: the runtime process starts on the first connection (activated, handover
// imported, socket adopted) vs the same server started directly on its own port (spawn -> first byte).
async function firstByteDirect(runtime) {
  const port = await freePort();
  const [cmd, ...args] = argv[runtime];
  const t0 = performance.now();
  const child = spawn(cmd, [...args, "native", `port:${port}`], { stdio: "ignore" });
  try {
    for (;;) {
      try {
        await request(port, 5000);
        return performance.now() - t0;
      } catch {
        if (performance.now() - t0 > 30_000) throw new Error("timeout");
        await sleep(1);
      }
    }
  } finally {
    child.kill("SIGKILL");
  }
}

async function firstByteActivated(runtime, servers = argv) {
  const port = await freePort();
  const [cmd, ...args] = servers[runtime];
  const child = spawn("systemd-socket-activate", [`--listen=127.0.0.1:${port}`, cmd, ...args, "native", "activated"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => err += d);
  try {
    while (!err.includes("Listening on")) await sleep(2);
    const t0 = performance.now();
    await request(port, 30_000);
    return performance.now() - t0;
  } finally {
    child.kill("SIGKILL");
  }
}

if (!only || only.includes(0)) {
  const tries = Math.max(3, rounds + 2);
  console.log(`\nFirst connect -> first byte, median of ${tries} (ms)\n`);
  if (argvBefore === undefined) {
    console.log("| runtime | direct (own port, no handover) | activated (handover) | handover adds |");
    console.log("|---|---:|---:|---:|");
  } else {
    console.log(`after: ${root}\nbefore (BENCH_BASE): ${base}\n`);
    console.log(
      "| runtime | direct (own port, no handover) | activated, after | handover adds, after | activated, before | handover adds, before | after − before |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|");
  }
  for (const runtime of ["deno", "bun", "node"]) {
    const direct = [], activated = [], previous = [];
    for (let i = 0; i < tries; i++) {
      // With BENCH_BASE the three in a rotating order: direct, after, before; then after, before, direct…
      const steps = [
        async () => direct.push(await firstByteDirect(runtime)),
        async () => activated.push(await firstByteActivated(runtime)),
      ];
      if (argvBefore !== undefined) {
        steps.push(async () => previous.push(await firstByteActivated(runtime, argvBefore)));
      }
      const shift = argvBefore === undefined ? 0 : i; // without BENCH_BASE: direct, then activated, as always
      for (let k = 0; k < steps.length; k++) await steps[(shift + k) % steps.length]();
    }
    const d = median(direct), a = median(activated);
    if (argvBefore === undefined) {
      console.log(`| ${runtime} | ${d.toFixed(1)} | ${a.toFixed(1)} | ${(a - d).toFixed(1)} |`);
    } else {
      const b = median(previous);
      console.log(
        `| ${runtime} | ${d.toFixed(1)} | ${a.toFixed(1)} | ${(a - d).toFixed(1)} | ${b.toFixed(1)} | ${
          (b - d).toFixed(1)
        } | ${(a - b).toFixed(1)} |`,
      );
    }
  }
}
