#!/usr/bin/env node
// Packs handover, installs the tarball into a throw-away consumer project and
// calls socketpair() from Node ESM, Node CommonJS, Bun (ESM and CommonJS) and Deno (npm: specifier), collect()
// from the start-up entry (handover/activation) in each under the package's bin and behind npm start,
// new Launcher() from handover/launcher in each, and runs the package's bin (`npx handover`), which hands a socket to a child.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const work = mkdtempSync(join(tmpdir(), "handover-smoke-"));
const sh = (cmd, args, cwd = work) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
const node = process.env.npm_node_execpath && !process.env.npm_node_execpath.includes("node_modules")
  ? process.env.npm_node_execpath
  : process.execPath;

let failures = 0;
try {
  sh("npm", ["pack", "--silent", "--pack-destination", work], root);
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
  const consumer = join(work, "consumer");
  execFileSync("mkdir", [consumer]);
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module", allowScripts: { koffi: true } }, null, 2),
  );
  sh("npm", ["install", "--no-audit", "--no-fund", "--silent", join(work, tarball)], consumer);

  const check = `const [a, b] = socketpair("dgram"); const ok = a >= 0 && b >= 0 && a !== b; close(a); close(b);`;
  // Each runtime must get its own build through the export conditions (node → dist/node.js, bun → dist/bun.js).
  writeFileSync(
    join(consumer, "esm.mjs"),
    `import { socketpair, close } from "handover";\n${check}\n` +
      `const file = import.meta.resolve("handover").split("/").pop();\n` +
      `const expected = typeof Bun !== "undefined" ? "bun.js" : "node.js";\n` +
      `console.log(ok && file === expected ? "ok" : \`bad: \${file}\`);\n`,
  );
  writeFileSync(
    join(consumer, "cjs.cjs"),
    // At once: the CommonJS build loads the FFI at require(), with no init().
    `const { socketpair, close } = require("handover");\n${check}\nconsole.log(ok ? "ok" : "bad");\n`,
  );
  writeFileSync(
    join(consumer, "deno.ts"),
    `import { socketpair, close } from "npm:handover";\n${check}\nconsole.log(ok ? "ok" : "bad");\n`,
  );
  const cases = [
    ["socketpair() in Node ESM", node, ["esm.mjs"]],
    ["socketpair() in Node CommonJS", node, ["cjs.cjs"]],
    ["socketpair() in Bun CommonJS", bin("bun"), ["cjs.cjs"]],
    ["socketpair() in Bun", bin("bun"), ["esm.mjs"]],
    ["socketpair() in Deno (npm: specifier)", bin("deno"), ["run", "-A", "deno.ts"]],
  ];
  // The start-up entry (handover/activation), in a child the package's bin started with one socket: it
  // collects the socket at fd 3 and removes the LISTEN_* variables, from each runtime's build.
  const collectCheck = (getenv) =>
    `const name = (${getenv("LISTEN_FDNAMES")} ?? "unknown").split(":")[0];\n` +
    `const activated = isActivated();\nconst [fd] = collect(name);\n` +
    `const ok = activated && fd === 3 && ${getenv("LISTEN_FDS")} === undefined;\n`;
  const nodeEnv = (name) => `process.env.${name}`;
  writeFileSync(
    join(consumer, "activation.mjs"),
    `import { collect, isActivated } from "handover/activation";\n${collectCheck(nodeEnv)}` +
      `const file = import.meta.resolve("handover/activation").split("/").pop();\n` +
      `const expected = typeof Bun !== "undefined" ? "activation-bun.js" : "activation-node.js";\n` +
      `console.log(ok && file === expected ? "ok" : \`bad: \${file} \${fd}\`);\n`,
  );
  writeFileSync(
    join(consumer, "activation.cjs"),
    `const { collect, isActivated } = require("handover/activation");\n` +
      `${collectCheck(nodeEnv)}console.log(ok ? "ok" : "bad");\n`,
  );
  writeFileSync(
    join(consumer, "activation-deno.ts"),
    `import { collect, isActivated } from "npm:handover/activation";\n` +
      `${collectCheck((name) => `Deno.env.get("${name}")`)}console.log(ok ? "ok" : "bad");\n`,
  );
  const launched = (argv) => ["--no-install", "handover", "-q", "-s", "0", "--", ...argv];
  cases.push(
    ["collect() from handover/activation in Node ESM", "npx", launched([node, "activation.mjs"])],
    ["collect() from handover/activation in Node CommonJS", "npx", launched([node, "activation.cjs"])],
    ["collect() from handover/activation in Bun CommonJS", "npx", launched([bin("bun"), "activation.cjs"])],
    ["collect() from handover/activation in Bun", "npx", launched([bin("bun"), "activation.mjs"])],
    [
      "collect() from handover/activation in Deno (npm: specifier)",
      "npx",
      launched([bin("deno"), "run", "-A", "activation-deno.ts"]),
    ],
  );
  // The launcher API (handover/launcher): one app, handed one socket, ends with 0 when it got it.
  const launcherCheck = `const launcher = new Launcher({ apps: [{ name: "a", sockets: ["0"], command: ["node", "-e", ` +
    `"process.exit(process.env.LISTEN_FDS === '1' ? 0 : 3)"] }] });\n` +
    `launcher.on("exit", ({ code }) => launcher.close().then(() => console.log(code === 0 ? "ok" : \`bad: \${code}\`)));\n` +
    `launcher.start("a").catch(() => {}); // it ends before it is ready\n`;
  writeFileSync(join(consumer, "launcher.mjs"), `import { Launcher } from "handover/launcher";\n${launcherCheck}`);
  writeFileSync(join(consumer, "launcher.cjs"), `const { Launcher } = require("handover/launcher");\n${launcherCheck}`);
  writeFileSync(
    join(consumer, "launcher-deno.ts"),
    `import { Launcher } from "npm:handover/launcher";\n${launcherCheck}`,
  );
  cases.push(
    ["new Launcher() from handover/launcher in Node ESM", node, ["launcher.mjs"]],
    ["new Launcher() from handover/launcher in Node CommonJS", node, ["launcher.cjs"]],
    ["new Launcher() from handover/launcher in Bun", bin("bun"), ["launcher.mjs"]],
    ["new Launcher() from handover/launcher in Bun CommonJS", bin("bun"), ["launcher.cjs"]],
    ["new Launcher() from handover/launcher in Deno (npm: specifier)", bin("deno"), ["run", "-A", "launcher-deno.ts"]],
  );
  // Behind npm start: the launcher's socket reaches the app that npm and sh started (LISTEN_PID names npm).
  writeFileSync(
    join(consumer, "wrapped.cjs"),
    `const { collect } = require("handover");\nconst fds = collect((process.env.LISTEN_FDNAMES ?? "").split(":")[0]);\n` +
      `console.log(fds.length === 1 && process.env.LISTEN_FDS === undefined ? "ok" : "bad");\n`,
  );
  const manifest = JSON.parse(readFileSync(join(consumer, "package.json"), "utf8"));
  manifest.scripts = { start: "node wrapped.cjs" };
  writeFileSync(join(consumer, "package.json"), JSON.stringify(manifest, null, 2));
  cases.push(["collect() behind npm start under the handover bin", "npx", launched(["npm", "start", "--silent"])]);
  // The package's bin: `npx handover` binds a socket (FFI) and hands it to a child, which prints "ok".
  writeFileSync(join(consumer, "child.cjs"), `console.log(process.env.LISTEN_FDS === "1" ? "ok" : "bad");\n`);
  cases.push(["the handover bin (npx handover -s 0 -- node child.cjs)", "npx", [
    "--no-install",
    "handover",
    "-q",
    "-s",
    "0",
    "--",
    node,
    "child.cjs",
  ]]);
  for (const [label, cmd, args] of cases) {
    let out;
    try {
      out = sh(cmd, args, consumer).trim();
    } catch (error) {
      out = String(error.message).split("\n")[0];
    }
    const ok = out === "ok";
    if (!ok) failures++;
    console.log(`${ok ? "ok  " : "FAIL"} ${label} from the packed tarball ${ok ? "" : `→ ${out}`}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
