// The benchmark app in Deno: Deno.serve through handover's serve() (the TypeScript modules, as from JSR),
// on the socket a socket activator passed (adopted), else on $PORT. With IDLE_MS set, exits that long
// after its last request.
import { serve } from "../../mod.ts";

const idleMs = Number(Deno.env.get("IDLE_MS") ?? 0);
let timer: ReturnType<typeof setTimeout> | undefined;
const arm = () => {
  if (idleMs <= 0) return;
  clearTimeout(timer);
  timer = setTimeout(() => Deno.exit(0), idleMs);
};
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
await serve(() => {
  arm();
  return new Response("ok\n");
}, { port: Number(Deno.env.get("PORT") ?? 0) });
