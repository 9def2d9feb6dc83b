#!/usr/bin/env node
// Runs every benchmark in bench/ (files named *.bench.mjs), or those named on
// the command line, one after another; each prints its own table of ratios
// measured side by side in the same run.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const all = readdirSync(here).filter((f) => f.endsWith(".bench.mjs")).sort();
const chosen = wanted.length > 0 ? all.filter((f) => wanted.some((w) => f.startsWith(w))) : all;
let failed = 0;
for (const file of chosen) {
  console.log(`\n## ${file.replace(".bench.mjs", "")}\n`);
  const r = spawnSync(process.execPath, [join(here, file)], { stdio: "inherit", timeout: 30 * 60 * 1000 });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
