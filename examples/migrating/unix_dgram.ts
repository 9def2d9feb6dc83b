import { notifySync } from "../../mod.ts";

// One call: NOTIFY_SOCKET read and parsed (a path, an @abstract name, vsock:), the datagram checked and sent.
// Synchronous, like a socket.send() without its callback; typed fields or the raw "KEY=VALUE\n" text.
const sent = notifySync({ ready: true, status: "serving" });
console.log(sent ? "sent READY=1" : "no NOTIFY_SOCKET");
