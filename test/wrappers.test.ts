// The launcher in front of what users run (npm start, npx tsx, sh -c, node --watch, tsx watch, nodemon, bunx,
// bun run, bun --watch, deno task, deno run --watch): the app, from the built package, gets its socket through
// the wrapper, or says in one line which wrapper lost it and what to run instead; under systemd's rules
// (systemd-socket-activate) a wrapper still means ESRCH, with the reason, and never the wrong fd.
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { explainNotAddressed, processEntry, wrapperOf } from "../src/activation/diagnosis.ts";
import { freePort } from "./_activate.ts";
import { guarded, ROOT, RUNTIME, runtimeArgv } from "./_helpers.ts";
import {
  answer,
  type ConsumerProject,
  consumerProject,
  copyFixture,
  pathWithRuntime,
  socketActivate,
  Started,
} from "./_package.ts";

interface AppLine {
  pid: number;
  fds?: number[];
  code?: string;
  message?: string;
}

const only = (...runtimes: string[]): string | false =>
  runtimes.includes(RUNTIME) ? false : `this wrapper is ${runtimes.join(" and ")}'s: it runs in that leg`;

/** A project with the test apps (app.mjs, app.cjs, app.ts) and the scripts the wrappers run. */
async function appProject(scripts: Record<string, string> = {}): Promise<ConsumerProject> {
  const project = await consumerProject({ type: "module", scripts });
  copyFixture(project, "app.mjs");
  copyFixture(project, "app.cjs");
  copyFixture(project, "app.mjs", "app.ts");
  return project;
}

/** The launcher, in the runtime under test, with one socket named "web" in front of `command`. */
function launch(project: ConsumerProject, port: number, command: readonly string[]): Started {
  const [runtime, argv] = runtimeArgv(join(ROOT, "cli.ts"));
  return new Started(runtime, [...argv, "-q", "-s", `web=127.0.0.1:${port}`, "--", ...command], {
    cwd: project.dir,
    env: { PATH: pathWithRuntime() },
  });
}

/** Runs `command` under the launcher and checks that the app took the socket and answers on it. */
async function servedThrough(
  command: readonly string[],
  scripts: Record<string, string> = {},
  expectFd?: number,
): Promise<void> {
  const project = await appProject(scripts);
  const port = await freePort();
  const launcher = launch(project, port, command);
  try {
    const line = await launcher.json<AppLine>();
    assert.ok(line.fds !== undefined, `the app did not get its socket: ${line.message}`);
    if (expectFd !== undefined) assert.deepEqual(line.fds, [expectFd]);
    assert.equal(await answer(port), `${line.pid}\n`);
  } finally {
    await launcher.stop();
    project.remove();
  }
}

/**
 * Runs a watcher under the launcher, changes the app, and checks that the restarted app takes the socket again
 * (`restarted: "serves"`) or says in one line which watcher lost it and what to run instead.
 */
async function restartedBy(command: readonly string[], restarted: "serves" | RegExp): Promise<void> {
  const project = await appProject();
  const port = await freePort();
  const launcher = launch(project, port, command);
  try {
    const first = await launcher.json<AppLine>(1, 60_000);
    assert.ok(first.fds !== undefined, `the first run did not get its socket: ${first.message}`);
    assert.equal(await answer(port), `${first.pid}\n`);
    // Watchers compare modification times; a second's wait makes the change visible to all of them.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    appendFileSync(join(project.dir, "app.mjs"), "// changed\n");
    const second = await launcher.json<AppLine>(2, 60_000);
    if (restarted === "serves") {
      assert.ok(second.fds !== undefined, `the restarted app did not get its socket: ${second.message}`);
      assert.notEqual(second.pid, first.pid);
      assert.equal(await answer(port), `${second.pid}\n`);
    } else {
      assert.equal(second.code, "ESRCH");
      assert.doesNotMatch(second.message!, /\n/);
      assert.match(second.message!, restarted);
    }
  } finally {
    await launcher.stop();
    project.remove();
  }
}

// ---------------------------------------------------------------- wrappers that start the app

it(
  "handover -s … -- npm start: the app behind npm and sh takes its socket (the launcher's spare copy)",
  { skip: only("node") },
  guarded(() => servedThrough(["npm", "start"], { start: "node app.mjs" }, 64)),
);

it(
  "handover -s … -- npm run dev: a CommonJS app takes it with require(), at once",
  { skip: only("node") },
  guarded(() => servedThrough(["npm", "run", "dev"], { dev: "node app.cjs" }, 64)),
);

it(
  "handover -s … -- npx tsx app.ts: the app behind npx and tsx takes its socket",
  { skip: only("node") },
  guarded(() => servedThrough(["npx", "tsx", "app.ts"])),
);

it(
  'handover -s … -- sh -c "node app.mjs": the app behind a shell takes fd 3',
  guarded(() => {
    const app = RUNTIME === "deno" ? "deno run -A app.mjs" : `${RUNTIME} app.mjs`;
    return servedThrough(["sh", "-c", app], {}, 3);
  }),
);

it(
  "handover -s … -- deno task start: the app behind deno task takes its socket",
  { skip: only("deno") },
  guarded(() => servedThrough(["deno", "task", "start"], { start: "deno run -A app.mjs" }, 3)),
);

it(
  "handover -s … -- bun run start: the app takes its socket from the launcher, as bun run closes inherited fds",
  { skip: only("bun") },
  guarded(() => servedThrough(["bun", "run", "start"], { start: "bun app.mjs" })),
);

it(
  "handover -s … -- bunx tsx app.ts: the app takes its socket from the launcher, as bunx closes inherited fds",
  { skip: only("bun") },
  guarded(() => servedThrough(["bunx", "tsx", "app.ts"])),
);

// ---------------------------------------------------------------- watchers

it(
  "handover -s … -- node --watch: the app takes the launcher's socket, not the IPC channel at fd 3, on every restart",
  { skip: only("node") },
  guarded(() => restartedBy(["node", "--watch", "app.mjs"], "serves")),
);

it(
  "handover -s … -- npx tsx watch: the app takes its socket on every restart",
  { skip: only("node") },
  guarded(() => restartedBy(["npx", "tsx", "watch", "app.mjs"], "serves")),
);

it(
  "handover -s … -- nodemon: the app takes its socket on every restart",
  { skip: only("node") },
  guarded(() => restartedBy(["nodemon", "-q", "app.mjs"], "serves")),
);

it(
  "handover -s … -- bun --watch: the first run serves; the restart says in one line that bun --watch lost it, and the fix",
  { skip: only("bun") },
  guarded(() =>
    restartedBy(
      ["bun", "--watch", "app.mjs"],
      /^Not started by a service manager: LISTEN_PID is not set: this process runs under bun --watch, .*let the launcher watch files instead: handover -w \. -s NAME=PORT -- bun app\.mjs$/,
    )
  ),
);

it(
  "handover -s … -- deno run --watch: the first run serves; the restart says in one line that deno run --watch lost it, and the fix",
  { skip: only("deno") },
  guarded(() =>
    restartedBy(
      ["deno", "run", "-A", "--watch", "app.mjs"],
      /^Not started by a service manager: LISTEN_PID is not set: this process runs under deno run --watch, .*let the launcher watch files instead: handover -w \. -s NAME=PORT -- deno run -A app\.mjs$/,
    )
  ),
);

// ---------------------------------------------------------------- systemd's rules

/** Runs `command` under systemd-socket-activate (one socket "web") and returns what the app printed. */
async function underSystemd(project: ConsumerProject, command: readonly string[]): Promise<AppLine> {
  const port = await freePort();
  const activated = await socketActivate(port, "web", ["env", `PATH=${pathWithRuntime()}`, ...command], project.dir);
  try {
    // The first connection starts the command; the app then answers it, or exits and the connection ends.
    const reply = answer(port).catch(() => "");
    const line = await activated.json<AppLine>();
    activated.kill("SIGTERM");
    await reply;
    return line;
  } finally {
    await activated.stop();
  }
}

it(
  "under systemd-socket-activate, an app behind npm start gets ESRCH naming npm, sh and what to do instead",
  { skip: only("node") },
  guarded(async () => {
    const project = await appProject({ start: "node app.mjs" });
    try {
      const line = await underSystemd(project, ["npm", "start"]);
      assert.equal(line.code, "ESRCH");
      assert.match(
        line.message!,
        /^Not started by a service manager: LISTEN_PID is \d+, not this process \(\d+\): the sockets were passed to npm start \(pid \d+\), which started this process through sh .*\(pid \d+\); a service manager passes sockets only to the process it starts, so start the app itself \(ExecStart= .* rather than npm start\); on a laptop, the handover launcher passes them through wrappers$/,
      );
    } finally {
      project.remove();
    }
  }),
);

it(
  "under systemd-socket-activate, node --watch never hands out its IPC channel at fd 3: ESRCH names NODE_CHANNEL_FD and the fix",
  { skip: only("node") },
  guarded(async () => {
    const project = await appProject();
    try {
      const line = await underSystemd(project, ["node", "--watch", "app.mjs"]);
      assert.equal(line.code, "ESRCH");
      assert.match(line.message!, /^Not started by a service manager: LISTEN_PID is \d+, not this process/);
      assert.match(
        line.message!,
        /fd 3 here is the IPC channel \(NODE_CHANNEL_FD\) of node --watch app\.mjs \(pid \d+\)/,
      );
      assert.match(
        line.message!,
        /let the launcher watch files instead of node --watch: handover -w \. -s web=PORT -- node app\.mjs$/,
      );
    } finally {
      project.remove();
    }
  }),
);

it(
  "a HANDOVER_LAUNCHER left in the environment changes nothing under systemd-socket-activate: fd 3, by libsystemd's rules",
  guarded(async () => {
    const project = await appProject();
    try {
      const app = RUNTIME === "deno" ? [process.execPath, "run", "-A", "app.mjs"] : [process.execPath, "app.mjs"];
      // A launcher's variable from further up (a test runner started under the launcher, say): another pid.
      const line = await underSystemd(project, ["env", "HANDOVER_LAUNCHER=pid=1;fds=3;inodes=1;spare=64", ...app]);
      assert.deepEqual(line.fds, [3], line.message);
    } finally {
      project.remove();
    }
  }),
);

it(
  "an fd whose inode is not the one the launcher named is never used: ESRCH says it did not reach the process",
  guarded(async () => {
    const project = await appProject();
    try {
      const app = RUNTIME === "deno" ? [process.execPath, "run", "-A", "app.mjs"] : [process.execPath, "app.mjs"];
      // fd 3 is systemd-socket-activate's socket, but the variable names another inode (1, which no socket has),
      // and so does whatever pid 1's fd 3 is.
      const line = await underSystemd(project, [
        "env",
        "LISTEN_PID=1",
        "HANDOVER_LAUNCHER=pid=1;fds=3;inodes=1;spare=64",
        ...app,
      ]);
      assert.equal(line.code, "ESRCH");
      assert.match(
        line.message!,
        /^Not started by a service manager: LISTEN_PID is 1, not this process \(\d+\), and the handover launcher \(pid 1\) passed 1 fd to .*, but fd 3 \("web"\) did not reach this process: /,
      );
    } finally {
      project.remove();
    }
  }),
);

// ---------------------------------------------------------------- the words

it("wrapperOf() tells the wrappers apart by the command lines /proc shows", () => {
  const cases: [string[], string | undefined][] = [
    [["node", "--watch", "app.js"], "node --watch"],
    [["/usr/bin/node", "--watch-path=src", "--watch", "app.js"], "node --watch"],
    [["npm start"], "npm"],
    [["npm run dev"], "npm"],
    [["npm exec tsx app.ts"], "npx"],
    [["node", "/x/node_modules/tsx/dist/cli.mjs", "watch", "app.ts"], "tsx watch"],
    [["node", "/x/node_modules/.bin/tsx", "app.ts"], "tsx"],
    [["node", "/x/node_modules/.bin/nodemon", "app.js"], "nodemon"],
    [["bun", "--watch", "app.ts"], "bun --watch"],
    [["bun", "run", "start"], "bun run"],
    [["bunx", "tsx", "app.ts"], "bunx"],
    [["deno", "run", "-A", "--watch", "app.ts"], "deno run --watch"],
    [["deno", "task", "start"], "deno task"],
    [["/bin/sh", "-c", "node app.js"], "a shell"],
    [["node", "app.js"], undefined],
    [["bash"], undefined],
  ];
  for (const [argv, wrapper] of cases) assert.equal(wrapperOf(argv), wrapper, argv.join(" "));
});

it("ESRCH messages say which variable decided, what started this process, and what to do instead", () => {
  const parent = processEntry("self")!.ppid;
  assert.match(
    explainNotAddressed("LISTEN_PID is not set", {}),
    /^LISTEN_PID is not set: this process was started by .+ \(pid \d+\), not by a service manager; to pass it sockets, start it from a systemd \.socket unit or with the launcher \(handover -s NAME=PORT -- COMMAND\), or catch ESRCH and listen on a port of its own$/,
  );
  assert.match(
    explainNotAddressed("LISTEN_PID is not set", { LISTEN_FDS: "1" }),
    /^LISTEN_PID is not set although LISTEN_FDS is "1": .*collect\(name, \{ lenient: true \}\) accepts that$/,
  );
  // The parent named by LISTEN_PID: a wrapper (here, the test runner) between the manager and this process.
  assert.match(
    explainNotAddressed(`LISTEN_PID is ${parent}, not this process (${process.pid})`, {
      LISTEN_PID: String(parent),
      LISTEN_FDS: "1",
    }),
    new RegExp(
      `^LISTEN_PID is ${parent}, not this process \\(${process.pid}\\): the sockets were passed to .+ \\(pid ${parent}\\), which started this process; a service manager passes sockets only to the process it starts, so start the app itself`,
    ),
  );
  assert.match(
    explainNotAddressed(`LISTEN_PID is 1, not this process (${process.pid})`, { LISTEN_PID: "1", LISTEN_FDS: "1" }),
    /, nor one of its ancestors \(this process was started by .+\): the variables were inherited from another process's environment; unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES before starting this one$/,
  );
});
