#!/usr/bin/env node
// Runs the one node:test suite under Node (tsx), Node 24, Deno and Bun, every
// runtime even when another fails, and ends with one line: "N passed, N failed".
// It builds first (tsup), since the suite also tests the start-up entry as built for JSR.
// Usage: node test/run.mjs [--only node,node24,deno,bun] [test files...]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".cache", "junit");
const bin = (name) => join(root, "node_modules", ".bin", name);
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const node24Version = pkg.config?.node24;
const node24Prefix = join(root, ".cache", `node-${node24Version}`);
const node24 = join(node24Prefix, "node_modules", "node", "bin", "node");

const args = process.argv.slice(2);
let only = ["node", "node24", "deno", "bun"];
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--only") only = args[++i].split(",");
  else files.push(args[i]);
}
const testFiles = files.length > 0
  ? files
  : readdirSync(join(root, "test")).filter((f) => f.endsWith(".test.ts")).sort().map((f) => join("test", f));

// npm puts node_modules/.bin first on PATH; the system Node is the one running npm.
const systemNode = process.env.npm_node_execpath && !process.env.npm_node_execpath.includes("node_modules")
  ? process.env.npm_node_execpath
  : process.execPath;

function ensureNode24() {
  if (existsSync(node24)) return true;
  console.log(`# installing Node ${node24Version} from npm into ${node24Prefix}`);
  const r = spawnSync("npm", [
    "install",
    "--prefix",
    node24Prefix,
    "--no-save",
    "--no-package-lock",
    "--no-audit",
    "--no-fund",
    `node@${node24Version}`,
  ], { stdio: "inherit" });
  return r.status === 0 && existsSync(node24);
}

// Node 24 is a second version of a runtime the Node 20 leg already covers: by default it runs every file but
// the real-systemd container cases (test/systemd.test.ts), which take a third of a leg and exercise the same
// code under the same systemd. Files named on the command line always run.
const containerFiles = /(^|\/)systemd\.test\.ts$/;
const node24Files = files.length > 0 ? testFiles : testFiles.filter((f) => !containerFiles.test(f));

// node:test in a Node binary, through tsx, with a spec report on stdout and a JUnit one for the counts.
const nodeRun = (cmd, name, list = testFiles) => ({
  cmd,
  argv: [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=1",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=junit",
    `--test-reporter-destination=${join(out, `${name}.xml`)}`,
    ...list,
  ],
});

const runtimes = {
  node: () => nodeRun(systemNode, "node"),
  node24: () => ensureNode24() ? nodeRun(node24, "node24", node24Files) : undefined,
  deno: () => ({
    cmd: bin("deno"),
    argv: ["test", "-A", "--no-check", `--junit-path=${join(out, "deno.xml")}`, ...testFiles],
  }),
  bun: () => ({
    cmd: bin("bun"),
    argv: [
      "test",
      "--timeout=120000",
      "--reporter=junit",
      `--reporter-outfile=${join(out, "bun.xml")}`,
      ...testFiles.map(
        (f) => `./${f}`,
      ),
    ],
  }),
};

// Counts leaf test cases of a JUnit report; Deno lists a file-level case per
// describe() block as well, which carries no result of its own.
function countJUnit(xml) {
  let passed = 0, failed = 0, skipped = 0;
  const cases = xml.match(/<testcase\b[^>]*?(\/>|>[\s\S]*?<\/testcase>)/g) ?? [];
  for (const c of cases) {
    if (/<failure\b|<error\b/.test(c)) failed++;
    else if (/<skipped\b/.test(c)) skipped++;
    else passed++;
  }
  return { passed, failed, skipped };
}

mkdirSync(out, { recursive: true });
const totals = { passed: 0, failed: 0, skipped: 0 };
const lines = [];
// The builds first: the suite also runs what JSR publishes (jsr/activation.js, a build of activation.ts).
console.log("# building (tsup)");
const build = spawnSync(bin("tsup"), [], { cwd: root, stdio: ["ignore", "ignore", "inherit"], timeout: 5 * 60 * 1000 });
if (build.status !== 0) {
  lines.push(`build: tsup exited ${build.status ?? build.signal} (counted as 1 failed)`);
  totals.failed++;
}
for (const name of only) {
  const report = join(out, `${name}.xml`);
  rmSync(report, { force: true });
  const spec = runtimes[name]?.();
  if (spec === undefined) {
    lines.push(`${name}: could not be set up (counted as 1 failed)`);
    totals.failed++;
    continue;
  }
  console.log(`\n# ${name}: ${spec.cmd} ${spec.argv.slice(0, 3).join(" ")} …`);
  const started = Date.now();
  const r = spawnSync(spec.cmd, spec.argv, {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, HANDOVER_TEST_RUNTIME: name, FORCE_COLOR: "0", NO_COLOR: "1" },
    timeout: 40 * 60 * 1000,
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (!existsSync(report)) {
    lines.push(`${name}: no report (exit ${r.status ?? r.signal}); counted as 1 failed [${seconds} s]`);
    totals.failed++;
    continue;
  }
  const counts = countJUnit(readFileSync(report, "utf8"));
  // A runtime that exits non-zero without a failed case still failed.
  if (r.status !== 0 && counts.failed === 0) counts.failed = 1;
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  totals.skipped += counts.skipped;
  lines.push(
    `${name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (exit ${r.status}) [${seconds} s]`,
  );
}
console.log("\n# summary");
for (const line of lines) console.log(`# ${line}`);
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed === 0 ? 0 : 1);
