#!/usr/bin/env node
// Process start to collect() returning, per runtime, against an empty script
// in the same runtime: each child is started by /bin/sh with LISTEN_PID=$$,
// LISTEN_FDS=1, LISTEN_FDNAMES=web and a listening socket at fd 3, imports
// handover, calls collect("web") and exits. Runs are interleaved (A, B, B, A…)
// so that load from other processes hits both sides alike; the table shows
// medians of the whole process (spawn to exit) and of the in-process time
// (performance.now() when collect() returned, or at the empty script's first
// line). Each runtime runs the library as its users get it (Deno: what JSR
// serves, jsr/activation.js for the start-up entry and jsr/mod.js for the main
// entry; Bun and Node: the npm package's dist/), through the start-up entry
// (handover/activation: the rows with goals) and the main entry; for Deno also
// both entries' TypeScript modules (activation.ts, mod.ts); and
// each runtime's FFI alone (bench/fixtures/ffi_floor.mjs: open libc, bind
// fcntl, one call; no handover), the floor under any library that must set
// FD_CLOEXEC; and an empty module imported (bench/fixtures/import_empty.mjs),
// what importing any library costs. Node runs in a clean environment (no
// NODE_OPTIONS, NODE_EXTRA_CA_CERTS…).
// Usage: node bench/run.mjs activation   (BENCH_RUNS=N, default 30; BENCH_ROWS=1,5 picks rows)
// Before/after: BENCH_BASE=/path/to/another/checkout (built there with its own tsup, its own bench/fixtures)
// adds a "before" run to every row that loads handover, interleaved with this checkout's run and the same empty
// script (empty, after, before in rotating order), and prints both against that one reference and their
// difference. Make the other checkout with `git worktree add ../base REV` and link node_modules into it.
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
// The other checkout for before/after (BENCH_BASE): its files go to .cache/bench-activation/base/.
const base = process.env.BENCH_BASE ? resolve(process.env.BENCH_BASE) : undefined;
if (base !== undefined && !existsSync(join(base, "node_modules", ".bin", "tsup"))) {
  console.error(`BENCH_BASE=${base}: no node_modules/.bin/tsup there (link this checkout's node_modules into it)`);
  process.exit(1);
}
// The packages exactly as published, from tsup: dist/ (what `npm install handover` gives) and jsr/activation.js
// (what JSR serves Deno for @handover/handover/activation).
for (const checkout of base === undefined ? [root] : [root, base]) {
  const built = spawnSync(join(checkout, "node_modules", ".bin", "tsup"), [], { cwd: checkout, stdio: "ignore" });
  if (base !== undefined && built.status !== 0) {
    console.error(`tsup failed in ${checkout} (exit ${built.status})`);
    process.exit(1);
  }
}
// The file each runtime's export condition resolves to, in checkout `from`, written to folder `to`.
const collectFrom = (from, file) =>
  `import { collect } from ${JSON.stringify(join(from, file))};\n` +
  'const [fd] = collect("web");\nconst returned = performance.now();\n' +
  'if (fd !== 3) throw new Error(`collect("web") returned ${fd}, expected 3`);\nconsole.log(returned.toFixed(3));\n';
const writeChildren = (from, to) => {
  mkdirSync(to, { recursive: true });
  for (const build of ["node", "bun"]) {
    writeFileSync(join(to, `collect-dist-${build}.mjs`), collectFrom(from, `dist/${build}.js`));
    writeFileSync(join(to, `collect_startup-dist-${build}.mjs`), collectFrom(from, `dist/activation-${build}.js`));
    writeFileSync(join(to, `empty-dist-${build}.mjs`), "console.log(performance.now().toFixed(3));\n");
  }
  writeFileSync(join(to, "collect_startup-jsr.mjs"), collectFrom(from, "jsr/activation.js"));
  // The main entry as JSR serves it: jsr/mod.js where the checkout builds one, else the TypeScript modules.
  writeFileSync(
    join(to, "collect-jsr.mjs"),
    existsSync(join(from, "jsr", "mod.js")) ? collectFrom(from, "jsr/mod.js") : collectFrom(from, "mod.ts"),
  );
};
writeChildren(root, out);
if (base !== undefined) writeChildren(base, join(out, "base"));

const floor = join(fixtures, "ffi_floor.mjs");
const nodeVersion = spawnSync(systemNode, ["--version"]).stdout.toString().trim();
const deno = (file) => [bin("deno"), "run", "-A", "--no-check", file];
// Where a checkout's children are: this one's, and the BENCH_BASE one's (its own bench/fixtures).
const here = { out, fixtures };
const before = base === undefined ? undefined : { out: join(out, "base"), fixtures: join(base, "bench", "fixtures") };
// Each row: the runtime, how the library is loaded, the argv of "empty" (the reference) and of "collect" (the
// measured side), and for the rows that load handover `measured(checkout)`, the "collect" argv in a checkout (the
// BENCH_BASE run). The start-up entry (handover/activation) carries the goals.
const handover = (row) => ({ ...row, argv: (n) => n === "empty" ? row.empty() : row.measured(here) });
const rows = [
  handover({
    runtime: "deno",
    form: "start-up entry as JSR serves it (jsr/activation.js)",
    empty: () => deno(join(fixtures, "empty.ts")),
    measured: (c) => deno(join(c.out, "collect_startup-jsr.mjs")),
    goal: 3,
  }),
  handover({
    runtime: "deno",
    form: "start-up entry, TypeScript modules (activation.ts)",
    empty: () => deno(join(fixtures, "empty.ts")),
    measured: (c) => deno(join(c.fixtures, "collect_startup.ts")),
  }),
  handover({
    runtime: "deno",
    form: "main entry as JSR serves it (jsr/mod.js)",
    empty: () => deno(join(fixtures, "empty.ts")),
    measured: (c) => deno(join(c.out, "collect-jsr.mjs")),
  }),
  handover({
    runtime: "deno",
    form: "main entry, TypeScript modules (mod.ts)",
    empty: () => deno(join(fixtures, "empty.ts")),
    measured: (c) => deno(join(c.fixtures, "collect.ts")),
  }),
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
  handover({
    runtime: "bun",
    form: "start-up entry, npm package (dist/activation-bun.js)",
    empty: () => [bin("bun"), join(out, "empty-dist-bun.mjs")],
    measured: (c) => [bin("bun"), join(c.out, "collect_startup-dist-bun.mjs")],
    goal: 3,
  }),
  handover({
    runtime: "bun",
    form: "main entry, npm package (dist/bun.js)",
    empty: () => [bin("bun"), join(out, "empty-dist-bun.mjs")],
    measured: (c) => [bin("bun"), join(c.out, "collect-dist-bun.mjs")],
  }),
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
    handover({
      runtime: label,
      form: "start-up entry, npm package (dist/activation-node.js)",
      empty: () => [executable, join(out, "empty-dist-node.mjs")],
      measured: (c) => [executable, join(c.out, "collect_startup-dist-node.mjs")],
      goal: 10,
    }),
    handover({
      runtime: label,
      form: "main entry, npm package (dist/node.js)",
      empty: () => [executable, join(out, "empty-dist-node.mjs")],
      measured: (c) => [executable, join(c.out, "collect-dist-node.mjs")],
    }),
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

// Each side in turn, the order rotating so that load from other processes hits every side alike: A B, B A with two
// sides (empty, collect); all six orders in turn with three (empty, collect, before: BENCH_BASE).
const PERMUTATIONS = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0], [1, 0, 2], [0, 2, 1]];
const orders = (sides) =>
  sides.length === 2 ? [sides, [sides[1], sides[0]]] : PERMUTATIONS.map((o) => o.map((k) => sides[k]));

const compared = before !== undefined;
console.log(`${runs} interleaved runs per side, medians in ms (2 shared cores: expect noise)\n`);
if (compared) console.log(`after: ${root}\nbefore (BENCH_BASE): ${base}\n`);
console.log(
  `| runtime | library as |${
    compared ? " checkout |" : ""
  } empty process | process to collect() | difference | goal | in-process: empty | in-process: collect() returned | difference |${
    compared ? " after − before |" : ""
  }`,
);
console.log(`|---|---|${compared ? "---|" : ""}---:|---:|---:|---:|---:|---:|---:|${compared ? "---:|" : ""}`);
let over = 0;
for (const row of selected) {
  const argv = (side) => side === "before" ? row.measured(before) : row.argv(side);
  const sides = compared && row.measured !== undefined ? ["empty", "collect", "before"] : ["empty", "collect"];
  for (let i = 0; i < warmups; i++) for (const side of sides) once(argv(side));
  const results = Object.fromEntries(sides.map((side) => [side, []]));
  const rotation = orders(sides);
  for (let i = 0; i < runs; i++) {
    for (const side of rotation[i % rotation.length]) results[side].push(once(argv(side)));
  }
  const wallEmpty = median(results.empty.map((r) => r.wall));
  const inEmpty = median(results.empty.map((r) => r.inside));
  const line = (side, checkout, versus) => {
    const wall = median(results[side].map((r) => r.wall));
    const inside = median(results[side].map((r) => r.inside));
    const difference = wall - wallEmpty;
    if (side === "collect" && row.goal !== undefined && difference > row.goal) over++;
    const goal = row.goal === undefined ? "—" : `≤ ${row.goal}`;
    console.log(
      `| ${row.runtime} | ${row.form} |${checkout === undefined ? "" : ` ${checkout} |`} ${ms(wallEmpty)} | ${
        ms(wall)
      } | ${ms(difference)} | ${goal} | ${ms(inEmpty)} | ${ms(inside)} | ${ms(inside - inEmpty)} |${
        versus === undefined ? "" : ` ${versus} |`
      }`,
    );
  };
  if (!compared) line("collect");
  else if (sides.length === 2) line("collect", "—", "");
  else {
    const after = median(results.collect.map((r) => r.wall));
    const previous = median(results.before.map((r) => r.wall));
    line("collect", "after", "");
    line("before", "before", `${(after - previous).toFixed(1)}`);
  }
}
server.close();
console.log(over === 0 ? "\nevery row with a goal is within it" : `\n${over} row(s) over goal`);
