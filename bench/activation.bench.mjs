#!/usr/bin/env node
// Process start to collect() returning, per runtime, against an empty script
// in the same runtime: each child is started by /bin/sh with LISTEN_PID=$$,
// LISTEN_FDS=1, LISTEN_FDNAMES=web and a listening socket at fd 3, imports
// handover, calls collect("web") and exits. Runs are interleaved (A, B, B, A…)
// so that load from other processes hits both sides alike; the table shows
// medians of the whole process (spawn to exit) and of the in-process time
// (performance.now() when collect() returned, or at the empty script's first
// line). Each runtime runs the library as its users get it (Deno: what JSR
// serves, jsr/activation.js for the start-up entry and the TypeScript modules
// for the main entry; Bun and Node: the npm package's dist/), through the
// start-up entry (handover/activation: the rows with goals) and the main entry;
// for Deno also the start-up entry's TypeScript modules (activation.ts); and
// each runtime's FFI alone (bench/fixtures/ffi_floor.mjs: open libc, bind
// fcntl, one call; no handover), the floor under any library that must set
// FD_CLOEXEC; and an empty module imported (bench/fixtures/import_empty.mjs),
// what importing any library costs. Node runs in a clean environment (no
// NODE_OPTIONS, NODE_EXTRA_CA_CERTS…).
// Usage: node bench/run.mjs activation   (BENCH_RUNS=N, default 30; BENCH_ROWS=1,5 picks rows)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.env.BENCH_RUNS ?? 30);
const warmups = 3;
const bin = (name) => join(root, "node_modules", ".bin", name);
const fixtures = join(root, "bench", "fixtures");
const out = join(root, ".cache", "bench-activation");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const node24 = join(root, ".cache", `node-${pkg.config?.node24}`, "node_modules", "node", "bin", "node");
const systemNode = process.env.npm_node_execpath && !process.env.npm_node_execpath.includes("node_modules")
  ? process.env.npm_node_execpath
  : process.execPath;

mkdirSync(out, { recursive: true });
// The packages exactly as published, from tsup: dist/ (what `npm install handover` gives) and jsr/activation.js
// (what JSR serves Deno for @handover/handover/activation).
spawnSync(bin("tsup"), [], { cwd: root, stdio: "ignore" });
// The file each runtime's export condition resolves to.
const collectFrom = (file) =>
  `import { collect } from ${JSON.stringify(join(root, file))};\n` +
  'const [fd] = collect("web");\nconst returned = performance.now();\n' +
  'if (fd !== 3) throw new Error(`collect("web") returned ${fd}, expected 3`);\nconsole.log(returned.toFixed(3));\n';
for (const build of ["node", "bun"]) {
  writeFileSync(join(out, `collect-dist-${build}.mjs`), collectFrom(`dist/${build}.js`));
  writeFileSync(join(out, `collect_startup-dist-${build}.mjs`), collectFrom(`dist/activation-${build}.js`));
  writeFileSync(join(out, `empty-dist-${build}.mjs`), "console.log(performance.now().toFixed(3));\n");
}
writeFileSync(join(out, "collect_startup-jsr.mjs"), collectFrom("jsr/activation.js"));

const floor = join(fixtures, "ffi_floor.mjs");
const nodeVersion = spawnSync(systemNode, ["--version"]).stdout.toString().trim();
const deno = (file) => [bin("deno"), "run", "-A", "--no-check", file];
// Each row: the runtime, how the library is loaded, and the file for "empty" (the reference) and for
// "collect" (the measured side). The start-up entry (handover/activation) carries the goals.
const rows = [
  {
    runtime: "deno",
    form: "start-up entry as JSR serves it (jsr/activation.js)",
    argv: (n) => deno(n === "empty" ? join(fixtures, "empty.ts") : join(out, "collect_startup-jsr.mjs")),
    goal: 3,
  },
  {
    runtime: "deno",
    form: "start-up entry, TypeScript modules (activation.ts)",
    argv: (n) => deno(join(fixtures, `${n === "empty" ? "empty" : "collect_startup"}.ts`)),
  },
  { runtime: "deno", form: "main entry, TypeScript modules", argv: (n) => deno(join(fixtures, `${n}.ts`)) },
  {
    runtime: "deno",
    form: "FFI alone, no handover (floor)",
    argv: (n) => deno(n === "empty" ? join(fixtures, "empty.ts") : floor),
  },
  {
    runtime: "deno",
    form: "an empty module imported, no handover (reference)",
    argv: (n) => deno(join(fixtures, n === "empty" ? "empty.ts" : "import_empty.mjs")),
  },
  {
    runtime: "bun",
    form: "start-up entry, npm package (dist/activation-bun.js)",
    argv: (n) => [bin("bun"), join(out, `${n === "empty" ? "empty" : "collect_startup"}-dist-bun.mjs`)],
    goal: 3,
  },
  {
    runtime: "bun",
    form: "main entry, npm package (dist/bun.js)",
    argv: (n) => [bin("bun"), join(out, `${n}-dist-bun.mjs`)],
  },
  {
    runtime: "bun",
    form: "FFI alone, no handover (floor)",
    argv: (n) => [bin("bun"), n === "empty" ? join(out, "empty-dist-bun.mjs") : floor],
  },
  {
    runtime: "bun",
    form: "an empty module imported, no handover (reference)",
    argv: (n) => [bin("bun"), n === "empty" ? join(out, "empty-dist-bun.mjs") : join(fixtures, "import_empty.mjs")],
  },
];
for (
  const [label, executable] of [[`node ${nodeVersion}`, systemNode], [
    "node 24",
    existsSync(node24) ? node24 : undefined,
  ]]
) {
  if (executable === undefined) continue;
  rows.push(
    {
      runtime: label,
      form: "start-up entry, npm package (dist/activation-node.js)",
      argv: (n) => [executable, join(out, `${n === "empty" ? "empty" : "collect_startup"}-dist-node.mjs`)],
      goal: 10,
    },
    {
      runtime: label,
      form: "main entry, npm package (dist/node.js)",
      argv: (n) => [executable, join(out, `${n}-dist-node.mjs`)],
    },
    {
      runtime: label,
      form: "FFI alone, no handover (floor)",
      argv: (n) => [executable, n === "empty" ? join(out, "empty-dist-node.mjs") : floor],
    },
    {
      runtime: label,
      form: "an empty module imported, no handover (reference)",
      argv: (n) => [executable, n === "empty" ? join(out, "empty-dist-node.mjs") : join(fixtures, "import_empty.mjs")],
    },
  );
}
const only = process.env.BENCH_ROWS?.split(",").map(Number);
const selected = rows.filter((_, i) => only === undefined || only.includes(i + 1));

const server = createServer();
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const socketFd = server._handle.fd;
// A clean environment: no NODE_OPTIONS, NODE_EXTRA_CA_CERTS or the like.
const env = { PATH: process.env.PATH, HOME: process.env.HOME, LISTEN_FDS: "1", LISTEN_FDNAMES: "web" };

function once(argv) {
  const started = process.hrtime.bigint();
  const r = spawnSync("/bin/sh", ["-c", 'LISTEN_PID=$$ exec "$0" "$@"', ...argv], {
    env,
    stdio: ["ignore", "pipe", "pipe", socketFd],
    timeout: 60_000,
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { wall, inside: Number(r.stdout.toString().trim()) };
}

const median = (list) => {
  const s = [...list].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => x.toFixed(1).padStart(7);

console.log(`${runs} interleaved runs per side, medians in ms (2 shared cores: expect noise)\n`);
console.log(
  "| runtime | library as | empty process | process to collect() | difference | goal | in-process: empty | in-process: collect() returned | difference |",
);
console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
let over = 0;
for (const row of selected) {
  for (let i = 0; i < warmups; i++) {
    once(row.argv("empty"));
    once(row.argv("collect"));
  }
  const empty = [];
  const collected = [];
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ["empty", "collect"] : ["collect", "empty"];
    for (const name of order) (name === "empty" ? empty : collected).push(once(row.argv(name)));
  }
  const wallEmpty = median(empty.map((r) => r.wall));
  const wallCollect = median(collected.map((r) => r.wall));
  const inEmpty = median(empty.map((r) => r.inside));
  const inCollect = median(collected.map((r) => r.inside));
  const difference = wallCollect - wallEmpty;
  if (row.goal !== undefined && difference > row.goal) over++;
  const goal = row.goal === undefined ? "—" : `≤ ${row.goal}`;
  console.log(
    `| ${row.runtime} | ${row.form} | ${ms(wallEmpty)} | ${ms(wallCollect)} | ${ms(difference)} | ${goal} | ${
      ms(inEmpty)
    } | ${ms(inCollect)} | ${ms(inCollect - inEmpty)} |`,
  );
}
server.close();
console.log(over === 0 ? "\nevery row with a goal is within it" : `\n${over} row(s) over goal`);
