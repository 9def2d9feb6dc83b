import { notify } from "../../mod.ts";

// sd_notify(unsetEnvironment, state) becomes notify(state, { unsetEnv }): the same string, the same promise.
const sent = await notify("READY=1\nSTATUS=started", { unsetEnv: true });
console.log(sent ? "told the service manager" : "no NOTIFY_SOCKET: not started by systemd");
