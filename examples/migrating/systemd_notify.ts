import { notify } from "../../mod.ts";

// From this process itself, so NotifyAccess=main (systemd's default) takes it: no child, no race with its exit.
await notify({ ready: true, status: "serving" });
