import { listenFds, serve } from "../../mod.ts";

// systemfd --no-pid sets no LISTEN_PID: read the environment leniently first (the handover launcher's passes
// either way); serve() then serves that socket with the runtime's own server, or port 3000 when there is none.
const [passed] = listenFds({ lenient: true });
await serve(() => new Response("hello\n"), { name: passed?.name ?? "unknown", port: 3000 });
