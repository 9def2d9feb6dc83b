#!/usr/bin/env node
// FFI per-call overhead, socketpair create+close, and socket-stream throughput
// in Deno, Bun and Node, against a C program compiled in the same run. Rounds
// are interleaved (C, Deno, Bun, Node, C, …) and medians reported, so machine
// drift hits every row alike. Usage: node bench/run.mjs ffi [--rounds N]
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const out = join(here, ".out");
mkdirSync(out, { recursive: true });
const roundsArg = process.argv.indexOf("--rounds");
const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 7;
const CALLS = 5_000_000, PAIRS = 100_000, MEGABYTES = 256;

const reference = join(out, "ffi_reference");
execFileSync("gcc", ["-O2", "-pthread", "-o", reference, join(here, "ffi_reference.c")]);
const bin = (name) => join(root, "node_modules", ".bin", name);
const worker = join(here, "ffi_worker.ts");
const args = [String(CALLS), String(PAIRS), String(MEGABYTES)];
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const systemNode = process.env.npm_node_execpath && !process.env.npm_node_execpath.includes("node_modules")
  ? process.env.npm_node_execpath
  : process.execPath;
const subjects = {
  C: [reference, args],
  Deno: [bin("deno"), ["run", "-A", "--no-check", worker, ...args]],
  Bun: [bin("bun"), [worker, ...args]],
  Node: [systemNode, ["--import", "tsx", worker, ...args]],
};

const results = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, [cmd, argv]] of Object.entries(subjects)) {
    const text = execFileSync(cmd, argv, { cwd: root, env, encoding: "utf8" }).trim().split("\n").pop();
    results[name].push(JSON.parse(text));
  }
}
const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const m = Object.fromEntries(
  Object.entries(results).map(([name, rows]) => [name, {
    callNs: median(rows.map((r) => r.callNs)),
    pairNs: median(rows.map((r) => r.pairNs)),
    streamMBps: median(rows.map((r) => r.streamMBps)),
  }]),
);
const c = m.C;
console.log(`medians of ${rounds} interleaved rounds; ${CALLS} calls, ${PAIRS} pairs, ${MEGABYTES} MiB per round\n`);
console.log("| runtime | labs() call | FFI overhead | socketpair+2×close | ratio to C | stream MB/s | ratio to C |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const [name, r] of Object.entries(m)) {
  const overhead = name === "C" ? "—" : `${(r.callNs - c.callNs).toFixed(1)} ns`;
  console.log(
    `| ${name} | ${r.callNs.toFixed(1)} ns | ${overhead} | ${(r.pairNs / 1000).toFixed(2)} µs | ${
      (r.pairNs / c.pairNs).toFixed(2)
    }× | ${r.streamMBps.toFixed(0)} | ${(r.streamMBps / c.streamMBps).toFixed(2)}× |`,
  );
}
const worst = Math.max(...["Deno", "Bun", "Node"].map((k) => m[k].pairNs / c.pairNs));
console.log(`\nsocketpair+close goal: every runtime within 1.2× of C; worst here ${worst.toFixed(2)}×`);
