// One runtime's side of bench/notify.bench.mjs: µs per notify("WATCHDOG=1")
// (and per notifySync) to the NOTIFY_SOCKET the bench set up.
import { notify, notifySync } from "../mod.ts";

const count = Number(process.argv[2] ?? 20000);
const warmup = Math.min(5000, count);
for (let i = 0; i < warmup; i++) await notify("WATCHDOG=1");
let started = performance.now();
for (let i = 0; i < count; i++) await notify("WATCHDOG=1");
const asyncMicros = (performance.now() - started) * 1000 / count;
for (let i = 0; i < warmup; i++) notifySync("WATCHDOG=1");
started = performance.now();
for (let i = 0; i < count; i++) notifySync("WATCHDOG=1");
const syncMicros = (performance.now() - started) * 1000 / count;
console.log(JSON.stringify({ async: asyncMicros, sync: syncMicros, sent: 2 * (warmup + count) }));
