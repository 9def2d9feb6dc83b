#!/usr/bin/env node
// µs per notify("WATCHDOG=1") in Node, Deno and Bun against libsystemd's
// sd_notify() called from a C program compiled in this run, all sending to
// the same fast receiver (a C recvmmsg(2) loop with SO_PASSCRED, like systemd's
// notify socket). Runs are interleaved round by round; medians are reported.
// Usage: node bench/notify.bench.mjs [rounds=7] [messages per run=20000]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rounds = Number(process.argv[2] ?? 7);
const count = Number(process.argv[3] ?? 20000);
const work = mkdtempSync(join(tmpdir(), "ho-notify-bench-"));
const socketPath = join(work, "notify.sock");

const RECEIVER_C = `
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#define BATCH 64
static volatile sig_atomic_t done;
static void stop(int s) { (void) s; done = 1; }
int main(int argc, char **argv) {
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = stop; /* no SA_RESTART: recvmmsg() returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un un = { .sun_family = AF_UNIX };
  strncpy(un.sun_path, argv[1], sizeof un.sun_path - 1);
  if (fd < 0 || bind(fd, (struct sockaddr *) &un, sizeof un) < 0) { perror("bind"); return 1; }
  int one = 1; setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  printf("ready\\n"); fflush(stdout);
  static char buf[BATCH][4096], control[BATCH][64];
  struct iovec iov[BATCH]; struct mmsghdr m[BATCH]; long received = 0;
  while (!done) {
    for (int i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec) { buf[i], sizeof buf[i] };
      m[i].msg_hdr = (struct msghdr) { .msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = control[i], .msg_controllen = sizeof control[i] };
    }
    /* Blocks for the first datagram, then takes whatever else is queued: one wake-up per burst. */
    int n = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);
    if (n >= 0) received += n;
    else if (errno != EINTR) { perror("recvmmsg"); return 1; }
  }
  printf("%ld\\n", received); return 0;
}
`;

// libsystemd's header may be missing: declare the one prototype we call.
const SENDER_C = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int sd_notify(int unset_environment, const char *state);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
int main(int argc, char **argv) {
  int n = atoi(argv[1]), warmup = n < 5000 ? n : 5000;
  for (int i = 0; i < warmup; i++) if (sd_notify(0, "WATCHDOG=1") <= 0) return 1;
  double t = now();
  for (int i = 0; i < n; i++) if (sd_notify(0, "WATCHDOG=1") <= 0) return 1;
  printf("{\\"sync\\": %f, \\"sent\\": %d}\\n", (now() - t) / n, n + warmup);
  return 0;
}
`;

function compile(name, source, libraries = []) {
  const c = join(work, `${name}.c`);
  const binary = join(work, name);
  writeFileSync(c, source);
  execFileSync("gcc", ["-O2", "-o", binary, c, ...libraries], { stdio: "inherit" });
  return binary;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const bin = (name) => join(root, "node_modules", ".bin", name);
const sender = join(root, "bench", "notify_sender.ts");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const node24 = join(root, ".cache", `node-${pkg.config?.node24}`, "node_modules", "node", "bin", "node");

let receiver;
try {
  const receiverBinary = compile("receiver", RECEIVER_C);
  const libsystemdBinary = compile("sd_notify_sender", SENDER_C, ["-l:libsystemd.so.0"]);
  const contenders = [
    { name: "libsystemd sd_notify() (C)", argv: [libsystemdBinary] },
    { name: "node", argv: [process.execPath, "--import", "tsx", sender] },
    ...(existsSync(node24) ? [{ name: "node24", argv: [node24, "--import", "tsx", sender] }] : []),
    { name: "deno", argv: [bin("deno"), "run", "-A", "--no-check", sender] },
    { name: "bun", argv: [bin("bun"), sender] },
  ];

  // systemd sets net.unix.max_dgram_qlen=512 (its sysctl.d/50-default.conf); many
  // machines without it keep the kernel's 10. The receiver gets systemd's
  // value in a network namespace of its own (the sysctl is per namespace and
  // taken when the socket is made), so the host is left alone.
  const qlen = 512;
  const isolated = process.getuid?.() === 0 && spawnSync("unshare", ["-n", "true"]).status === 0;
  receiver = isolated
    ? spawn(
      "unshare",
      [
        "-n",
        "sh",
        "-c",
        `echo ${qlen} > /proc/sys/net/unix/max_dgram_qlen && exec "$0" "$1"`,
        receiverBinary,
        socketPath,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    )
    : spawn(receiverBinary, [socketPath], { stdio: ["ignore", "pipe", "inherit"] });
  const receiverQlen = isolated ? qlen : Number(readFileSync("/proc/sys/net/unix/max_dgram_qlen", "utf8"));
  let receiverOut = "";
  receiver.stdout.setEncoding("utf8");
  receiver.stdout.on("data", (d) => receiverOut += d);
  for (let i = 0; i < 500 && !receiverOut.includes("ready"); i++) await new Promise((r) => setTimeout(r, 10));
  if (!receiverOut.includes("ready")) throw new Error("the receiver did not start");

  const results = new Map(contenders.map((c) => [c.name, { async: [], sync: [] }]));
  let sent = 0;
  for (let round = 0; round < rounds; round++) {
    // Rotate the order every round so that no contender always runs first or last.
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
    for (const contender of order) {
      const [command, ...args] = contender.argv;
      const r = spawnSync(command, [...args, String(count)], {
        cwd: root,
        env: { ...process.env, NOTIFY_SOCKET: socketPath },
        encoding: "utf8",
        timeout: 5 * 60_000,
      });
      if (r.status !== 0) throw new Error(`${contender.name} failed (${r.status ?? r.signal}): ${r.stderr}`);
      const report = JSON.parse(r.stdout.trim().split("\n").pop());
      sent += report.sent;
      const entry = results.get(contender.name);
      entry.sync.push(report.sync);
      if (report.async !== undefined) entry.async.push(report.async);
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`);
  }

  receiver.kill("SIGTERM");
  await new Promise((r) => receiver.on("close", r));
  const received = Number(receiverOut.trim().split("\n").pop());

  const reference = median(results.get(contenders[0].name).sync);
  console.log(
    `${count} messages per run, ${rounds} interleaved rounds, medians; receiver: C recvmmsg() loop with SO_PASSCRED, ` +
      `max_dgram_qlen ${receiverQlen}`,
  );
  console.log(`the receiver got ${received} of ${sent} datagrams sent${received === sent ? "" : " (LOST SOME)"}\n`);
  console.log("| sender | µs per notify() | × libsystemd | µs per notifySync() | × libsystemd |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const [name, entry] of results) {
    const a = entry.async.length > 0 ? median(entry.async) : undefined;
    const s = median(entry.sync);
    const cell = (v) => v === undefined ? "—" : v.toFixed(2);
    const ratio = (v) => v === undefined ? "—" : `${(v / reference).toFixed(2)}×`;
    console.log(`| ${name} | ${cell(a)} | ${ratio(a)} | ${cell(s)} | ${ratio(s)} |`);
  }
  if (received !== sent) process.exitCode = 1;
} finally {
  if (receiver !== undefined && receiver.exitCode === null) receiver.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
