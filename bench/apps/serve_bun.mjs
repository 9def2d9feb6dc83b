// The benchmark app in Bun: Bun.serve through handover's serve() (the npm package's dist/bun.js), on the
// socket a socket activator passed (adopted), else on $PORT. With IDLE_MS set, exits that long after its
// last request.
import { serve } from "../../dist/bun.js";

const idleMs = Number(process.env.IDLE_MS ?? 0);
let timer;
const arm = () => {
  if (idleMs <= 0) return;
  clearTimeout(timer);
  timer = setTimeout(() => process.exit(0), idleMs);
};
process.on("SIGTERM", () => process.exit(0));
await serve(() => {
  arm();
  return new Response("ok\n");
}, { port: Number(process.env.PORT ?? 0) });
