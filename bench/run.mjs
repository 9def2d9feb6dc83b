#!/usr/bin/env node
// Runs every benchmark in bench/ (files named *.bench.mjs), or those named on
// the command line (`node bench/run.mjs ffi -- --rounds 3`), one after another; each prints its own table of ratios
// measured side by side in the same run.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// Names before "--" choose benchmarks; what follows "--" goes to each of them.
const dash = process.argv.indexOf("--");
const wanted = dash < 0 ? process.argv.slice(2) : process.argv.slice(2, dash);
const passed = dash < 0 ? [] : process.argv.slice(dash + 1);
const all = readdirSync(here).filter((f) => f.endsWith(".bench.mjs")).sort();
const chosen = wanted.length > 0 ? all.filter((f) => wanted.some((w) => f.startsWith(w))) : all;
let failed = 0;
for (const file of chosen) {
  console.log(`\n## ${file.replace(".bench.mjs", "")}\n`);
  const r = spawnSync(process.execPath, [join(here, file), ...passed], { stdio: "inherit", timeout: 30 * 60 * 1000 });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
