import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { it } from "node:test";
import { docBlock, writeDocBlock } from "./_docs.ts";
import { FIXTURES, guarded, ROOT, RUNTIME, runtimeArgv } from "./_helpers.ts";
import { Launcher } from "./_launcher.ts";

/** What test/fixtures/http_load.mjs reports. */
interface LoadReport {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  p99: number;
  max: number;
}

/** Starts the load (system Node) against `port`; `finish()` ends it and returns its report. */
function startLoad(port: number, slowShare: number): { finish(): Promise<LoadReport> } {
  const clients = [{ keepAlive: false }, { keepAlive: false }, { keepAlive: true }, { keepAlive: true }];
  const child = spawn("node", [
    join(FIXTURES, "http_load.mjs"),
    JSON.stringify({ port, durationMs: 120_000, clients, slowShare }),
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

/**
 * Runs `app` under `handover --watch` with a load of 4 clients (two open a connection per request, two keep
 * one alive), restarts it `restarts` times by touching it, each time once the new instance is ready, and
 * returns the load's report.
 */
async function restartUnderLoad(app: string, restarts: number, slowShare: number): Promise<LoadReport> {
  const [command, argv] = runtimeArgv(app);
  const launcher = new Launcher(["-s", "web=http::0", "-w", app, "--", command, ...argv], {}, 180_000);
  try {
    const port = await launcher.port();
    await launcher.waitFor(/^~> pid \d+ is ready/, 1, 60_000);
    const load = startLoad(port, slowShare);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let restart = 1; restart <= restarts; restart++) {
      const now = new Date();
      utimesSync(app, now, now);
      await launcher.waitFor(/^~> pid \d+ is ready/, restart + 1, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const report = await load.finish();
    assert.equal(launcher.count(/^~> started pid/), restarts + 1, launcher.stderr);
    return report;
  } finally {
    const { code } = await launcher.stop();
    assert.equal(code, 0, launcher.stderr);
  }
}

const scratch = (label: string): string => join(ROOT, "test", ".tmp", `restarts-${label}-${process.pid}`);

it(
  "the README's quick-start app restarts 20 times under handover --watch and no request fails, with a connection per request or one kept alive",
  guarded(async () => {
    const dir = scratch("readme");
    try {
      const app = writeDocBlock(dir, "app.mjs", docBlock("README.md", /await serve\(/));
      const report = await restartUnderLoad(app, 20, 0);
      assert.equal(report.failed, 0, JSON.stringify(report));
      assert.ok(report.ok > 50, JSON.stringify(report));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

const adopted = {
  deno: ["deno_adopt.ts", "node_adopt.ts"],
  bun: ["bun_adopt.ts", "node_adopt.ts"],
  node: ["node_adopt.ts", "express_adopt.ts"],
}[RUNTIME];

for (const name of ["serve_app.ts", ...adopted]) {
  it(
    `docs/serving.md's ${name} restarts 5 times under handover --watch, a third of the requests taking 100 ms, and no request fails`,
    guarded(async () => {
      const dir = scratch(name.replace(".ts", ""));
      try {
        const app = writeDocBlock(dir, name, docBlock("docs/serving.md", name));
        const report = await restartUnderLoad(app, 5, 1 / 3);
        assert.equal(report.failed, 0, JSON.stringify(report));
        assert.ok(report.ok > 20, JSON.stringify(report));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }),
  );
}

it(
  "an app that does not send READY=1 is taken over once its new instance listens (its event loop waits on the socket): no gap, no connection refused",
  guarded(async () => {
    const app = join(FIXTURES, "restart_plain.mjs");
    const dir = scratch("plain");
    try {
      mkdirSync(dir, { recursive: true });
      const trigger = join(dir, "trigger");
      writeFileSync(trigger, "");
      const launcher = new Launcher(["-s", "web=http::0", "-w", trigger, "--", "node", app], {}, 120_000);
      try {
        const port = await launcher.port();
        await launcher.waitFor(/^~> started pid/);
        const load = startLoad(port, 0);
        for (let restart = 1; restart <= 5; restart++) {
          writeFileSync(trigger, String(restart));
          await launcher.waitFor(/^~> pid \d+ is listening$/, restart, 30_000);
          await launcher.waitFor(/took over: stopping pid/, restart, 30_000);
        }
        const report = await load.finish();
        // This app does not drain (a plain node:http server dies of SIGTERM with what it accepted), so only
        // refusals would say that nothing was listening in between.
        assert.equal(report.errors.ECONNREFUSED, undefined, JSON.stringify(report));
        assert.ok(report.ok > 20, JSON.stringify(report));
        assert.equal(launcher.count(/^~> started pid/), 6, launcher.stderr);
      } finally {
        // The plain app dies of the SIGTERM passed on to it; the launcher exits with its status.
        const { code } = await launcher.stop();
        assert.equal(code, 143, launcher.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

it(
  "a new instance that fails to start is reported and the old one goes on serving",
  guarded(async () => {
    const app = join(FIXTURES, "restart_plain.mjs");
    const dir = scratch("broken");
    try {
      mkdirSync(dir, { recursive: true });
      const broken = join(dir, "broken");
      const trigger = join(dir, "trigger");
      writeFileSync(trigger, "");
      const launcher = new Launcher(["-s", "web=http::0", "-w", trigger, "--", "node", app, broken], {}, 120_000);
      try {
        const port = await launcher.port();
        const first = (await launcher.waitFor(/^~> started pid (\d+)/))[1];
        for (let i = 0; i < 300; i++) {
          if (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => undefined)) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const load = startLoad(port, 0);
        writeFileSync(broken, "");
        writeFileSync(trigger, "1");
        const second = (await launcher.waitFor(/^~> started pid (\d+)/, 2, 30_000))[1];
        await launcher.waitFor(
          new RegExp(`^~> the new pid ${second} ended before it was ready; pid ${first} goes on serving$`),
          1,
          30_000,
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
        const report = await load.finish();
        assert.equal(report.failed, 0, JSON.stringify(report));
        assert.ok(report.ok > 10, JSON.stringify(report));
        // The old instance is still the one answering.
        const answer = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
        assert.equal(answer, `hello ${first}\n`);
        assert.equal(launcher.count(/^~> started pid/), 2, launcher.stderr);
      } finally {
        // The plain app dies of the SIGTERM passed on to it; the launcher exits with its status.
        const { code } = await launcher.stop();
        assert.equal(code, 143, launcher.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);
