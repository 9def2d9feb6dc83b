// The package as users load it, from the built files (dist/, through package.json's export conditions):
// the socket-activation README example run as written under systemd-socket-activate, in CommonJS (Node, Bun),
// as an ES module (Node, Bun, Deno) and compiled by tsc as a CommonJS TypeScript project; and require()
// working at once, with no init().
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { freePort } from "./_activate.ts";
import { guarded, run, RUNTIME } from "./_helpers.ts";
import { answer, type ConsumerProject, consumerProject, copyFixture, socketActivate } from "./_package.ts";

const COMMONJS = RUNTIME === "deno"
  ? "Deno takes the package's ES modules (its deno export condition): CommonJS is Node's and Bun's"
  : false;

/** The runtime under test running `script` from the project. */
const runScript = (script: string): string[] =>
  RUNTIME === "deno" ? [process.execPath, "run", "-A", script] : [process.execPath, script];

/**
 * Runs `script` under systemd-socket-activate with one socket named "app", connects (which starts it), and
 * checks what the README promises: the connection gets "hello!", and the app logs the address it listens on.
 */
async function servesTheReadmeExample(project: ConsumerProject, script: string): Promise<void> {
  const port = await freePort();
  const activated = await socketActivate(port, "app", runScript(script), project.dir);
  try {
    assert.equal(await answer(port), "hello!\n", activated.stderr);
    const [line] = await activated.output(/Listening on[^\n]*(\n[^\n]*){0,4}/);
    assert.match(line, new RegExp(`port: ${port}`), line);
  } finally {
    await activated.stop();
  }
}

it(
  'the socket-activation README example runs as written with require("handover") under systemd-socket-activate',
  { skip: COMMONJS },
  guarded(async () => {
    const project = await consumerProject();
    try {
      copyFixture(project, "seed.cjs");
      await servesTheReadmeExample(project, "seed.cjs");
    } finally {
      project.remove();
    }
  }),
);

it(
  'the same example with require("handover/activation"), the start-up entry',
  { skip: COMMONJS },
  guarded(async () => {
    const project = await consumerProject();
    try {
      const path = copyFixture(project, "seed.cjs", "seed-activation.cjs");
      writeFileSync(path, readFileSync(path, "utf8").replace("require('handover')", "require('handover/activation')"));
      assert.match(readFileSync(path, "utf8"), /require\('handover\/activation'\)/);
      await servesTheReadmeExample(project, "seed-activation.cjs");
    } finally {
      project.remove();
    }
  }),
);

it(
  "the same example as an ES module (import * as sockets from 'handover') under systemd-socket-activate",
  guarded(async () => {
    const project = await consumerProject({ type: "module" });
    try {
      copyFixture(project, "seed.mjs");
      await servesTheReadmeExample(project, "seed.mjs");
    } finally {
      project.remove();
    }
  }),
);

it(
  'require("handover") works at once: socketpair(), notifySync() and collect() with no init(), which still resolves',
  { skip: COMMONJS },
  guarded(async () => {
    const project = await consumerProject();
    try {
      copyFixture(project, "at_once.cjs");
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(process.env)) {
        if (value !== undefined && !/^(LISTEN_|NOTIFY_SOCKET$|HANDOVER_)/.test(key)) env[key] = value;
      }
      const result = await run(process.execPath, ["at_once.cjs"], { cwd: project.dir, env, timeoutMs: 30_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout.trim()), {
        socketpair: true,
        notifySync: false,
        main: "ESRCH",
        activation: "ESRCH",
        init: "resolved",
      });
    } finally {
      project.remove();
    }
  }),
);

it(
  "a CommonJS TypeScript project compiled by tsc (module: commonjs) runs the example under systemd-socket-activate",
  { skip: COMMONJS },
  guarded(async () => {
    const project = await consumerProject();
    try {
      copyFixture(project, "seed.ts", join("src", "app.ts"));
      // The start-up entry's types too, through the package's activation/ stub (node10 resolution).
      project.write(
        join("src", "startup.ts"),
        'import { collect, HandoverError } from "handover/activation";\n' +
          "export const take = (name: string): number[] | HandoverError => {\n" +
          "  try {\n    return collect(name);\n  } catch (error) {\n    return error as HandoverError;\n  }\n};\n",
      );
      project.write(
        "tsconfig.json",
        JSON.stringify({
          compilerOptions: {
            module: "commonjs",
            target: "es2022",
            strict: true,
            types: ["node"],
            rootDir: "src",
            outDir: "out",
          },
          include: ["src"],
        }),
      );
      // tsc is a Node program; the output runs in the runtime under test.
      const tsc = await run("node", [join(project.dir, "node_modules", "typescript", "bin", "tsc"), "-p", "."], {
        cwd: project.dir,
        timeoutMs: 120_000,
      });
      assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
      const compiled = readFileSync(join(project.dir, "out", "app.js"), "utf8");
      assert.match(compiled, /require\("handover"\)/);
      await servesTheReadmeExample(project, join("out", "app.js"));
    } finally {
      project.remove();
    }
  }),
);
