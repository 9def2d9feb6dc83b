// handover up and the Launcher API (handover/launcher): several apps in mixed runtimes from one file, on demand,
// idle stop and wake-up, a crash restarts only its app, `handover restart NAME` under load, events in order,
// handover.json against its JSON Schema, and the docs' config and API snippet as written.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { it } from "node:test";
import { Launcher as ApiLauncher, type LauncherEvents } from "../launcher.ts";
import { parseLauncherFile } from "../src/cli/config.ts";
import { COLLECTIONS, collectWhenSettled, fullCollection, leanCompiler } from "../src/cli/heap.ts";
import { lineWriter } from "../src/cli/up.ts";
import { docBlock, writeDocBlock } from "./_docs.ts";
import { FIXTURES, guarded, lastJson, ROOT, run, RUNTIME, runtimeArgv, sleep } from "./_helpers.ts";
import { CLI, Launcher } from "./_launcher.ts";

const EXAMPLE = join(ROOT, "examples", "up");
const SCHEMA = JSON.parse(readFileSync(join(ROOT, "schema", "handover.schema.json"), "utf8"));

// ---- a validator for the subset of JSON Schema that schema/handover.schema.json uses ----------------------

type Schema = Record<string, unknown>;

function schemaErrors(schema: Schema, value: unknown, path = "", root: Schema = schema): string[] {
  if (typeof schema.$ref === "string") {
    const target = schema.$ref.replace(/^#\//, "").split("/").reduce(
      (s: Schema, key) => s[key] as Schema,
      root,
    );
    return schemaErrors(target, value, path, root);
  }
  const errors: string[] = [];
  const at = path || "(top level)";
  if (Array.isArray(schema.oneOf)) {
    const passing = schema.oneOf.filter((s) => schemaErrors(s as Schema, value, path, root).length === 0);
    if (passing.length !== 1) errors.push(`${at}: matches ${passing.length} of oneOf`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${at}: not in enum`);
  const type = schema.type;
  const isType = (t: unknown): boolean =>
    t === "object"
      ? typeof value === "object" && value !== null && !Array.isArray(value)
      : t === "array"
      ? Array.isArray(value)
      : t === "integer"
      ? Number.isInteger(value)
      : (typeof value as string) === t;
  if (type !== undefined && !isType(type)) return [...errors, `${at}: not ${type}`];
  if (typeof value === "string") {
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) {
      errors.push(`${at}: does not match ${schema.pattern}`);
    }
    if (typeof schema.minLength === "number" && value.length < schema.minLength) errors.push(`${at}: too short`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errors.push(`${at}: below minimum`);
    if (typeof schema.maximum === "number" && value > schema.maximum) errors.push(`${at}: above maximum`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) errors.push(`${at}: too few items`);
    if (schema.items !== undefined) {
      value.forEach((item, i) => errors.push(...schemaErrors(schema.items as Schema, item, `${path}[${i}]`, root)));
    }
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!(key in object)) errors.push(`${path ? `${path}.` : ""}${key}: missing`);
    }
    for (const [key, item] of Object.entries(object)) {
      const field = path ? `${path}.${key}` : key;
      if (properties[key] !== undefined) errors.push(...schemaErrors(properties[key], item, field, root));
      else if (schema.additionalProperties === false) errors.push(`${field}: unknown field`);
      else if (typeof schema.additionalProperties === "object") {
        errors.push(...schemaErrors(schema.additionalProperties as Schema, item, field, root));
      }
    }
  }
  return errors;
}

/** The parser's error for a config, or undefined when it takes it. */
function parserError(config: unknown): string | undefined {
  try {
    parseLauncherFile(config, "/tmp");
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The fenced ```json block of docs/launcher.md that holds a handover.json. */
function docsConfig(): unknown {
  const text = readFileSync(join(ROOT, "docs", "launcher.md"), "utf8");
  const match = /^```json\n(\{\n {2}"\$schema"[\s\S]*?)^```$/m.exec(text);
  assert.ok(match, "docs/launcher.md has a handover.json block");
  return JSON.parse(match[1]!);
}

it("handover.json: the examples and the docs validate against the schema and the parser", () => {
  const configs = [JSON.parse(readFileSync(join(EXAMPLE, "handover.json"), "utf8")), docsConfig()];
  for (const config of configs) {
    assert.deepEqual(schemaErrors(SCHEMA, config), []);
    assert.equal(parserError(config), undefined);
    assert.match(config.$schema, /handover\.schema\.json$/);
  }
});

it("handover.json: the parser and the schema refuse the same bad configs, the parser naming the field", () => {
  const app = { name: "web", command: ["node", "app.js"], sockets: ["http::8080"] };
  const cases: [unknown, RegExp][] = [
    [{}, /^apps: missing$/],
    [{ apps: [] }, /^apps: expected a non-empty array/],
    [
      { apps: [app, { ...app, name: "api", sockets: ["http::8081", 8082] }] },
      /^apps\[1\]\.sockets\[1\]: expected a string/,
    ],
    [{ apps: [app, app, { ...app, name: "x y" }] }, /^apps\[2\]\.name: expected 1 to 64 letters/],
    [{ apps: [{ ...app, command: [] }] }, /^apps\[0\]\.command: expected at least one string/],
    [{ apps: [{ ...app, restart: "sometimes" }] }, /^apps\[0\]\.restart: expected one of "no", "on-failure"/],
    [{ apps: [{ ...app, idleTimeout: "soon" }] }, /^apps\[0\]\.idleTimeout: expected a duration/],
    [{ apps: [{ ...app, workers: 0 }] }, /^apps\[0\]\.workers: expected an integer from 1 to 256, got 0/],
    [{ apps: [{ ...app, onDemand: "yes" }] }, /^apps\[0\]\.onDemand: expected true or false/],
    [{ apps: [{ ...app, port: 8080 }] }, /^apps\[0\]\.port: unknown field$/],
    [{ apps: [{ ...app, env: { A: 1 } }] }, /^apps\[0\]\.env\.A: expected a string/],
    [{ apps: [app], extra: true }, /^extra: unknown field$/],
  ];
  for (const [config, message] of cases) {
    assert.match(parserError(config) ?? "(accepted)", message);
    assert.notDeepEqual(schemaErrors(SCHEMA, config), [], `the schema accepts ${JSON.stringify(config)}`);
  }
  // What only the parser can check: a socket spec, a duplicate name, idleTimeout without onDemand.
  assert.match(parserError({ apps: [{ ...app, sockets: ["tcp::99999"] }] })!, /^apps\[0\]\.sockets\[0\]: /);
  assert.match(parserError({ apps: [app, app] })!, /^apps\[1\]\.name: "web" is taken already/);
  assert.match(parserError({ apps: [{ ...app, idleTimeout: 5 }] })!, /^apps\[0\]\.idleTimeout: needs onDemand/);
});

it("handover up: a bad handover.json exits 2 naming the field", async () => {
  const dir = mkdtempSync(join(tmpdir(), "handover-up-bad-"));
  try {
    writeFileSync(
      join(dir, "handover.json"),
      JSON.stringify({ apps: [{ name: "a", command: ["true"], sockets: [1] }] }),
    );
    const [command, argv] = runtimeArgv(CLI);
    const result = await run(command, [...argv, "up"], { cwd: dir, timeoutMs: 30_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^handover: handover\.json: apps\[0\]\.sockets\[0\]: expected a string, got 1$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- five apps in Deno, Bun and Node from one file ------------------------------------------------------

/** One request on a connection of its own (no keep-alive: an idle app must see no connection left open). */
function get(port: number, path = "/", timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => body += chunk);
      response.on("end", () => resolve(body));
      response.on("error", reject);
    });
    // An on-demand app's first request waits for its runtime to start, which a loaded machine slows.
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer on port ${port} within ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

/** Waits until the launcher's stdout (the apps' output) matches `times` times. */
async function waitForOutput(launcher: Launcher, pattern: RegExp, times = 1): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ([...launcher.stdout.matchAll(pattern)].length < times) {
    if (Date.now() > deadline) assert.fail(`expected ${times}× ${pattern} on stdout:\n${launcher.stdout}`);
    await sleep(20);
  }
}

interface LoadReport {
  ok: number;
  failed: number;
  errors: Record<string, number>;
}

function startLoad(port: number): { finish(): Promise<LoadReport> } {
  const clients = [{ keepAlive: false }, { keepAlive: false }, { keepAlive: true }];
  const child = spawn("node", [
    join(FIXTURES, "http_load.mjs"),
    JSON.stringify({ port, durationMs: 60_000, clients }),
  ], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => out += d);
  const done = new Promise<void>((resolve) => child.on("close", () => resolve()));
  return {
    async finish() {
      process.kill(child.pid!, "SIGINT");
      await done;
      return JSON.parse(out.trim().split("\n").at(-1)!) as LoadReport;
    },
  };
}

const APPS = [
  { name: "node1", command: ["node", "--import", "tsx", "app.ts"], idleTimeout: "1s" },
  { name: "deno1", command: ["deno", "run", "-A", "app.ts"], idleTimeout: "30s" },
  { name: "bun1", command: ["bun", "app.ts"], idleTimeout: "30s", restart: "on-failure" },
  { name: "node2", command: ["node", "--import", "tsx", "app.ts"], idleTimeout: "30s" },
  { name: "deno2", command: ["deno", "run", "-A", "app.ts"], idleTimeout: "30s" },
];

it(
  "handover up: 5 apps in Deno, Bun and Node on demand; idle stop and wake-up; a crash restarts only its app; restart under load loses nothing",
  guarded(async () => {
    const dir = mkdtempSync(join(tmpdir(), "handover-up-"));
    const runtimeDir = mkdtempSync(join(tmpdir(), "handover-up-run-"));
    const env = { XDG_RUNTIME_DIR: runtimeDir };
    const config = {
      $schema: "../schema/handover.schema.json",
      name: "uptest",
      apps: APPS.map((app) => ({
        ...app,
        cwd: EXAMPLE,
        env: { APP: app.name },
        sockets: ["web=http::0"],
        onDemand: true,
        stopTimeout: "5s",
      })),
    };
    assert.deepEqual(schemaErrors(SCHEMA, config), []);
    writeFileSync(join(dir, "handover.json"), JSON.stringify(config));
    const launcher = new Launcher(["up"], env, 120_000, dir);
    const client = (...args: string[]) => {
      const [command, argv] = runtimeArgv(CLI);
      return run(command, [...argv, ...args], { env: { ...process.env, ...env }, timeoutMs: 30_000 });
    };
    try {
      const ports = new Map<string, number>();
      for (const app of APPS) {
        const match = await launcher.waitFor(new RegExp(`^${app.name} +\\| ~> socket http://127\\.0\\.0\\.1:(\\d+)/$`));
        ports.set(app.name, Number(match[1]));
      }
      for (const app of APPS) {
        await launcher.waitFor(new RegExp(`^${app.name} +\\| ~> waiting for the first connection$`));
      }
      assert.equal(launcher.count(/~> started pid/), 0, "nothing starts before its first connection");
      // Each app starts on its own first connection, in its own runtime.
      const pids = new Map<string, string>();
      for (const app of APPS) {
        const body = await get(ports.get(app.name)!);
        const [name, runtime, pid] = body.trim().split(" ");
        assert.equal(name, app.name);
        assert.equal(runtime, app.command[0]);
        pids.set(app.name, pid!);
        assert.equal(launcher.count(new RegExp(`^${app.name} +\\| ~> started pid`)), 1);
      }
      await waitForOutput(launcher, /^deno1 +\| deno1: serving the socket handover passed$/gm);

      // node1 is idle after 1 s: stopped, then started again by the next connection.
      await launcher.waitFor(/^node1 +\| ~> pid \d+ is idle: stopping it until the next connection$/);
      await launcher.waitFor(/^node1 +\| ~> waiting for the first connection$/, 2);
      const again = (await get(ports.get("node1")!)).trim().split(" ");
      assert.notEqual(again[2], pids.get("node1"), "a new instance answers after the idle stop");
      pids.set("node1", again[2]!);
      assert.equal(launcher.count(/^node1 +\| ~> started pid/), 2);

      // bun1 crashes: only bun1 restarts (on its next connection); the others keep their pids.
      await get(ports.get("bun1")!, "/crash").catch(() => "");
      await launcher.waitFor(/^bun1 +\| ~> pid \d+ exited with code 3$/);
      const bun = (await get(ports.get("bun1")!)).trim().split(" ");
      assert.notEqual(bun[2], pids.get("bun1"));
      pids.set("bun1", bun[2]!);
      // (node1 is left out: it may have been idle for 1 s again meanwhile.)
      for (const app of APPS.slice(1)) {
        const body = (await get(ports.get(app.name)!)).trim().split(" ");
        assert.equal(body[2], pids.get(app.name), `${app.name} kept its pid`);
      }

      // One control socket: status lists every app.
      const status = await client("status");
      assert.equal(status.code, 0, status.stderr);
      for (const app of APPS) assert.match(status.stdout, new RegExp(`^● ${app.name}$`, "m"));
      for (const app of APPS.slice(1)) {
        assert.match(status.stdout, new RegExp(`Main PID: ${pids.get(app.name)}$`, "m"));
      }
      assert.match(status.stdout, /Status: "serving deno2 on deno"/);
      assert.match(status.stdout, /Restarts: 1/); // bun1 (and node1)

      // handover restart NAME under load: 0 failed requests.
      const load = startLoad(ports.get("deno2")!);
      await sleep(500);
      const restarted = await client("restart", "deno2");
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.match(restarted.stdout, /^restarting deno2$/m);
      await launcher.waitFor(/^deno2 +\| ~> started pid/, 2);
      await waitForOutput(launcher, /^deno2 +\| deno2: serving the socket handover passed$/gm, 2);
      await sleep(500);
      const report = await load.finish();
      assert.equal(report.failed, 0, JSON.stringify(report));
      assert.ok(report.ok > 0);

      // stop NAME stops that app alone; an unknown name is an error.
      const stopped = await client("stop", "deno1");
      assert.equal(stopped.code, 0, stopped.stderr);
      await launcher.waitFor(/^deno1 +\| ~> pid \d+ exited/);
      const unknown = await client("restart", "nosuchapp");
      assert.equal(unknown.code, 3);
      assert.match(unknown.stderr, /no running launcher has an app named "nosuchapp"/);
      assert.equal(launcher.child.exitCode, null);

      // SIGTERM drains and stops them all; exit 0.
      const end = await launcher.stop("SIGTERM");
      assert.deepEqual(end, { code: 0, signal: null }, launcher.stderr);
      for (const app of APPS.slice(1)) {
        const pid = Number(pids.get(app.name));
        assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `${app.name} (pid ${pid}) is gone`);
      }
    } catch (error) {
      // What the launcher said is what explains a failure here.
      if (error instanceof Error) error.message += `\nthe launcher's stderr:\n${launcher.stderr}`;
      throw error;
    } finally {
      if (launcher.child.exitCode === null) await launcher.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  }),
);

// ---- the API -----------------------------------------------------------------------------------------------

const NODE_APP = join(FIXTURES, "cli", "http_app.mjs");

it(
  "Launcher API: events in order for one app; start resolves when ready; restart overlaps; stop and close",
  guarded(async () => {
    const launcher = new ApiLauncher();
    const events: string[] = [];
    const names = ["connection", "start", "ready", "status", "exit", "restart", "idle", "stop"] as const;
    for (const name of names) {
      launcher.on(name, (event: LauncherEvents[typeof name]) => {
        events.push(`${name}:${event.name}`);
      });
    }
    try {
      const [url] = launcher.add({ name: "plain", command: ["node", NODE_APP], sockets: ["http::0"], stopTimeout: 5 });
      const [lazyUrl] = launcher.add({
        name: "lazy",
        command: ["node", NODE_APP],
        sockets: ["http::0"],
        onDemand: true,
        idleTimeout: "300ms",
      });
      assert.throws(
        () => launcher.add({ name: "plain", command: ["x"] }),
        /^ConfigError: name: "plain" is taken already/,
      );
      assert.deepEqual(launcher.apps().map((a) => [a.name, a.phase, a.supervised]), [
        ["plain", "idle", false],
        ["lazy", "idle", false],
      ]);
      await launcher.start("plain");
      assert.equal(launcher.apps()[0]!.ready, true);
      assert.match(await get(Number(new URL(url!).port)), /^hello from \d+\n$/);
      await launcher.start("lazy"); // resolves at once: it waits for its first connection
      assert.equal(launcher.apps()[1]!.phase, "waiting");
      let idled = false;
      const idle = new Promise<void>((resolve) =>
        launcher.once("idle", () => {
          idled = true;
          resolve();
        })
      );
      // An open connection keeps it running past its idle timeout (300 ms); once closed, it is stopped.
      const held = connect({ host: "127.0.0.1", port: Number(new URL(lazyUrl!).port) });
      await new Promise((resolve) => held.once("connect", resolve));
      assert.match(await get(Number(new URL(lazyUrl!).port)), /^hello from \d+\n$/);
      await sleep(1_500);
      assert.equal(idled, false, "an app with an open connection is not idle");
      held.destroy();
      await idle;
      await launcher.restart("plain");
      assert.equal(launcher.apps()[0]!.restarts, 1);
      assert.equal(await launcher.stop("plain"), 0);
      assert.equal(launcher.apps()[0]!.supervised, false);
      await assert.rejects(launcher.start("nosuchapp"), RangeError);
      await launcher.close();
      const plain = events.filter((e) => e.endsWith(":plain"));
      assert.deepEqual(plain, [
        "start:plain",
        "ready:plain",
        "restart:plain",
        "start:plain",
        "ready:plain",
        "exit:plain",
        "exit:plain",
        "stop:plain",
      ]);
      const lazy = events.filter((e) => e.endsWith(":lazy"));
      assert.deepEqual(lazy.slice(0, 5), ["connection:lazy", "start:lazy", "ready:lazy", "idle:lazy", "exit:lazy"]);
      assert.equal(lazy.at(-1), "stop:lazy");
    } finally {
      await launcher.close({ force: true });
    }
  }),
);

it("docs/launcher.md: the Launcher API snippet runs as written", async () => {
  mkdirSync(join(ROOT, ".cache"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, ".cache", "up-docs-"));
  try {
    const file = writeDocBlock(dir, "launcher_api.ts", docBlock("docs/launcher.md", "launcher_api.ts"));
    const [command, argv] = runtimeArgv(file);
    const result = await run(command, argv, { cwd: dir, timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^api started as pid \d+$/m);
    assert.match(result.stdout, /^api: hello from api$/m);
    assert.match(result.stdout, /^all stopped$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("handover up: an app's output is prefixed line by line, across chunks, and a line past 64 KiB is not held", () => {
  let out = "";
  const write = lineWriter((text) => out += text, "web | ");
  write("");
  write("no end yet");
  assert.equal(out, "");
  write(" and the end\n\nsecond\nthird");
  assert.equal(out, "web | no end yet and the end\nweb | \nweb | second\n");
  write("\n");
  assert.equal(out, "web | no end yet and the end\nweb | \nweb | second\nweb | third\n");
  out = "";
  const long = "x".repeat(64 * 1024);
  write(long);
  assert.equal(out, "");
  write("y");
  assert.equal(out, `web | ${long}y\n`);
  out = "";
  write("a\nb\n");
  assert.equal(out, "web | a\nweb | b\n");
});

it("the handover command collects its garbage after its apps settle: after each start and stop, three times", async () => {
  const launcher = new ApiLauncher({ apps: [{ name: "nap", command: ["sleep", "30"] }] });
  const at: number[] = [];
  const started = performance.now();
  const stop = collectWhenSettled(launcher, () => at.push(performance.now() - started), 150, 100);
  try {
    // Once after the launcher is made (its apps waiting), then after every event.
    for (let i = 0; i < 100 && at.length < COLLECTIONS; i++) await sleep(20);
    assert.equal(at.length, COLLECTIONS);
    // (A timer may fire a millisecond early by performance.now().)
    assert.ok(at[0]! >= 145 && at[1]! - at[0]! >= 95 && at[2]! - at[1]! >= 95, `collected at ${at.join(", ")} ms`);
    await sleep(300);
    assert.equal(at.length, COLLECTIONS, "no more collections while nothing happens");
    await launcher.start("nap");
    for (let i = 0; i < 200 && at.length < 2 * COLLECTIONS; i++) await sleep(20);
    assert.equal(at.length, 2 * COLLECTIONS);
    stop();
    await launcher.stop("nap");
    await sleep(400);
    assert.equal(at.length, 2 * COLLECTIONS, "none after the returned function stopped it");
  } finally {
    stop();
    await launcher.close({ force: true });
  }
  // The runtime's own collection: V8's gc() in Node, Bun.gc() in Bun, none in Deno.
  const collect = fullCollection();
  assert.equal(typeof collect, RUNTIME === "deno" ? "undefined" : "function");
  collect?.();
});

it("the handover command compiles no optimised code in Node (--no-opt --no-maglev), and changes nothing in Deno and Bun", async () => {
  if (RUNTIME !== "node") {
    assert.equal(leanCompiler(), false);
    return;
  }
  // In a process of its own: the flags hold for the whole process. A function forced to optimise is optimised
  // before leanCompiler() and stays interpreted after it, and so does one made hot by 200,000 calls.
  const [command, argv] = runtimeArgv(join(FIXTURES, "cli", "lean_compiler.ts"));
  const result = await run(command, argv, { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  const { set, before, forced, hot } = lastJson<{ set: boolean; before: number; forced: number; hot: number }>(result);
  const OPTIMIZED = 1 << 4; // V8's OptimizationStatus (src/runtime/runtime-test.cc)
  const INTERPRETED = 1 << 7;
  assert.equal(set, true);
  assert.equal(before & OPTIMIZED, OPTIMIZED, `before: status ${before.toString(2)}`);
  assert.equal(forced & (OPTIMIZED | INTERPRETED), INTERPRETED, `forced after: status ${forced.toString(2)}`);
  assert.equal(hot & OPTIMIZED, 0, `hot after: status ${hot.toString(2)}`);
});
