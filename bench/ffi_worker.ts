// One runtime's side of bench/ffi.bench.mjs: ns per FFI call of labs(), ns per
// socketpair()+2×close() through handover's API, and MB/s through
// openSocketStream() on a pair. Prints one JSON line.
import { close, openSocketStream, socketpair } from "../mod.ts";
import { openLibrary, system } from "../src/ffi/system.ts";

const [calls, pairs, megabytes] = process.argv.slice(2).map(Number) as [number, number, number];
const { backend } = system();
// labs() is the cheapest libc function there is: what remains is the FFI's own cost.
const { labs } = openLibrary(backend.libcPath, { labs: { parameters: ["i32"], result: "i32" } } as const);

let sink = 0;
for (let i = 0; i < calls / 10; i++) sink += labs((-i) | 0);
let t0 = performance.now();
for (let i = 0; i < calls; i++) sink += labs((-i) | 0);
const callNs = (performance.now() - t0) * 1e6 / calls;

for (let i = 0; i < pairs / 10; i++) {
  const [a, b] = socketpair();
  close(a);
  close(b);
}
t0 = performance.now();
for (let i = 0; i < pairs; i++) {
  const [a, b] = socketpair();
  close(a);
  close(b);
}
const pairNs = (performance.now() - t0) * 1e6 / pairs;

const [left, right] = socketpair();
const writer = await openSocketStream(left);
const reader = await openSocketStream(right);
const chunk = new Uint8Array(65536).fill(7);
const total = megabytes * 1024 * 1024;
t0 = performance.now();
const draining = (async () => {
  let received = 0;
  for await (const part of reader.readable) received += part.byteLength;
  return received;
})();
const w = writer.writable.getWriter();
for (let sent = 0; sent < total; sent += chunk.byteLength) await w.write(chunk);
await w.close();
const received = await draining;
const streamMBps = megabytes / ((performance.now() - t0) / 1000);
await writer.close();
await reader.close();
if (received !== total) throw new Error(`received ${received} of ${total} bytes`);
console.log(JSON.stringify({ callNs, pairNs, streamMBps, sink: sink & 1 }));
