// The real systemd (the machine's own, as PID 1 of a throw-away container)
// runs test/fixtures/notify_service.ts in the runtime under test.
import assert from "node:assert/strict";
import { it } from "node:test";
import { type Container, containerSkip, serviceCommand, sharedContainer } from "../_container.ts";
import { ROOT, RUNTIME, sleep } from "../_helpers.ts";

const skip = containerSkip();
// The watchdog case alone waits over 15 s; bound each well above what a loaded machine needs.
const timeout = 300_000;

const NOTIFY_UNITS = ["ho-notify.service", "ho-reload.service", "ho-child-main.service", "ho-child-all.service"];

function unit(description: string, mode: string, settings: readonly string[]): string {
  return [
    "[Unit]",
    `Description=handover ${description} (${RUNTIME})`,
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    `ExecStart=${serviceCommand(RUNTIME, "test/fixtures/notify_service.ts", [mode])}`,
    `WorkingDirectory=${ROOT}`,
    "Environment=HOME=/root DENO_DIR=/tmp/handover-deno NO_COLOR=1",
    "TimeoutStartSec=120",
    ...settings,
    "",
  ].join("\n");
}

/** Polls `systemctl show` until `done` says so (bounded), collecting what it saw. */
async function watch(
  container: Container,
  service: string,
  properties: readonly string[],
  done: (p: Record<string, string>) => boolean,
  timeoutMs = 60_000,
): Promise<{ last: Record<string, string>; seen: Record<string, string>[] }> {
  const seen: Record<string, string>[] = [];
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000; i++) {
    const p = await container.show(service, properties);
    seen.push(p);
    if (done(p)) return { last: p, seen };
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  assert.fail(
    `${service} did not get there in ${timeoutMs} ms; last: ${JSON.stringify(seen.at(-1))}\n${await container.journal(
      service,
    )}`,
  );
}

async function journalMatches(container: Container, service: string, pattern: RegExp, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let text = "";
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    text = await container.journal(service);
    if (pattern.test(text)) return text;
    await sleep(200);
  }
  assert.fail(`the journal of ${service} never matched ${pattern}:\n${text}`);
}

it(
  `systemd: Type=notify start waits for ready(), a reload round trip, stopping(), and what NotifyAccess= does to a child (${RUNTIME})`,
  { skip, timeout },
  async () => {
    const container = await sharedContainer();
    try {
      const version = Number(/systemd (\d+)/.exec(await container.ok(["systemctl", "--version"]))?.[1]);
      // Type=notify-reload came with systemd 253; before it, a Type=notify
      // service that sends RELOADING=1 … READY=1 is tracked the same way.
      const reloadSettings = version >= 253
        ? ["Type=notify-reload"]
        : ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID"];
      await container.installUnits({
        "ho-notify.service": unit("Type=notify", "notify", ["Type=notify"]),
        "ho-reload.service": unit("reload", "reload", reloadSettings),
        "ho-child-main.service": unit("NotifyAccess=main", "child", ["Type=notify", "NotifyAccess=main"]),
        "ho-child-all.service": unit("NotifyAccess=all", "child", ["Type=notify", "NotifyAccess=all"]),
      });

      // Type=notify: `systemctl start` returns only after READY=1.
      const started = Date.now();
      let startReturned = false;
      const starting = container.ok(["systemctl", "start", "ho-notify.service"]).finally(() => startReturned = true);
      const during = await watch(
        container,
        "ho-notify.service",
        ["ActiveState", "StatusText"],
        (p) => p.StatusText === "Starting" || startReturned,
      );
      await starting;
      const waited = Date.now() - started;
      assert.equal(during.last.ActiveState, "activating", "while STATUS=Starting, the unit is still activating");
      assert.ok(waited >= 1500, `systemctl start returned after ${waited} ms, before READY=1`);
      const up = await container.show("ho-notify.service", ["ActiveState", "SubState", "StatusText", "MainPID"]);
      assert.equal(up.ActiveState, "active");
      assert.equal(up.SubState, "running");
      assert.equal(up.StatusText, `Serving as ${up.MainPID}`);
      await container.ok(["systemctl", "stop", "ho-notify.service"]);
      const down = await container.show("ho-notify.service", ["ActiveState", "Result", "StatusText"]);
      assert.equal(down.ActiveState, "inactive");
      assert.equal(down.Result, "success");

      // Reload: SIGHUP → reloading() (RELOADING=1 + MONOTONIC_USEC) → 1 s of work → ready().
      await container.ok(["systemctl", "start", "ho-reload.service"]);
      assert.equal((await container.show("ho-reload.service", ["StatusText"])).StatusText, "Started");
      const reloadStarted = Date.now();
      let reloadReturned = false;
      const reload = container.ok(["systemctl", "reload", "ho-reload.service"]).finally(() => reloadReturned = true);
      const reloadWatch = await watch(
        container,
        "ho-reload.service",
        ["ActiveState", "SubState", "StatusText"],
        (p) => p.StatusText === "Reloaded 1" && p.ActiveState === "active" && reloadReturned,
      );
      await reload;
      const states = reloadWatch.seen.map((p) => p.ActiveState);
      assert.ok(states.includes("reloading"), `the unit went through "reloading": ${states.join(" ")}`);
      if (version >= 253) {
        assert.ok(Date.now() - reloadStarted >= 1000, "Type=notify-reload: systemctl reload waited for READY=1");
      }
      assert.equal(reloadWatch.last.SubState, "running");

      // NotifyAccess=main (the default of Type=notify): a child's messages are dropped.
      await container.ok(["systemctl", "start", "ho-child-main.service"]);
      const mainJournal = await journalMatches(container, "ho-child-main.service", /child \d+ sent its status/);
      assert.doesNotMatch(mainJournal, /barrier:/, "the refused child's barrier() returned: systemd closed its fd");
      const mainOnly = await container.show("ho-child-main.service", ["StatusText", "MainPID"]);
      assert.equal(mainOnly.StatusText, "Main ready", "systemd ignored the child's STATUS=");
      assert.match(
        await journalMatches(container, "ho-child-main.service", /reception only permitted for main PID/),
        /reception only permitted for main PID/,
        mainJournal,
      );
      // NotifyAccess=all: the same child's message is taken.
      await container.ok(["systemctl", "start", "ho-child-all.service"]);
      await watch(
        container,
        "ho-child-all.service",
        ["StatusText"],
        (p) => /^From child \d+$/.test(p.StatusText ?? ""),
      );
    } finally {
      await container.exec(["systemctl", "stop", ...NOTIFY_UNITS]);
    }
  },
);

it(
  `systemd: WatchdogSec=2 with startWatchdog() stays up, is restarted once pings stop, and fdStore() survives systemctl restart (${RUNTIME})`,
  { skip, timeout },
  async () => {
    const container = await sharedContainer();
    try {
      await container.installUnits({
        "ho-watchdog.service": unit("watchdog", "watchdog", [
          "Type=notify",
          "WatchdogSec=2",
          "Restart=on-watchdog",
          "RestartSec=1",
          "LimitCORE=0",
        ]),
        "ho-fdstore.service": unit("fd store", "fdstore", ["Type=notify", "FileDescriptorStoreMax=4"]),
      });
      await container.ok(["systemctl", "start", "ho-watchdog.service"]);
      const startedAt = Date.now();
      const first = await container.show("ho-watchdog.service", ["MainPID", "WatchdogUSec", "StatusText"]);
      assert.equal(first.WatchdogUSec, "2s");
      assert.equal(first.StatusText, "Pinging every 1000 ms");

      // The fd store, while the watchdog runs: store a listening socket, restart, get it back by name.
      await container.ok(["systemctl", "start", "ho-fdstore.service"]);
      const stored = await container.show("ho-fdstore.service", ["StatusText", "NFileDescriptorStore", "MainPID"]);
      const storedMatch = /^Stored web: (\S+) inode (\d+)$/.exec(stored.StatusText ?? "");
      assert.ok(storedMatch, stored.StatusText);
      assert.equal(stored.NFileDescriptorStore, "1");
      await container.ok(["systemctl", "restart", "ho-fdstore.service"]);
      const restored = await container.show("ho-fdstore.service", ["StatusText", "MainPID", "NFileDescriptorStore"]);
      assert.notEqual(restored.MainPID, stored.MainPID);
      assert.equal(restored.StatusText, `Restored web: stream listening ${storedMatch[1]} inode ${storedMatch[2]}`);
      await container.ok(["systemctl", "stop", "ho-fdstore.service"]);

      // Ten seconds of pings at half the interval: no restart.
      await sleep(Math.max(0, 10_000 - (Date.now() - startedAt)));
      const steady = await container.show("ho-watchdog.service", ["MainPID", "NRestarts", "ActiveState"]);
      assert.equal(steady.ActiveState, "active");
      assert.equal(steady.NRestarts, "0", await container.journal("ho-watchdog.service"));
      assert.equal(steady.MainPID, first.MainPID);

      // Stop the pings: systemd's watchdog fires and Restart=on-watchdog starts it again.
      await container.ok(["systemctl", "kill", "--kill-who=main", "-s", "SIGUSR2", "ho-watchdog.service"]);
      const restarted = await watch(
        container,
        "ho-watchdog.service",
        ["NRestarts", "MainPID", "ActiveState"],
        (p) => p.NRestarts === "1" && p.ActiveState === "active" && p.MainPID !== first.MainPID,
        30_000,
      );
      assert.notEqual(restarted.last.MainPID, "0");
      assert.match(await container.journal("ho-watchdog.service"), /Watchdog timeout/);
      // The new instance pings again.
      await sleep(3000);
      assert.equal((await container.show("ho-watchdog.service", ["NRestarts"])).NRestarts, "1");
    } finally {
      await container.exec(["systemctl", "stop", "ho-watchdog.service", "ho-fdstore.service"]);
    }
  },
);
