// The real systemd, as PID 1 of ONE throw-away container for this runtime's
// whole run (../shared/tools/systemd-container): the cases in test/systemd/
// share it, each with its own units and ports, and the last case here powers
// it off and checks that the host was left unchanged. The imports register
// the cases in this order.
import assert from "node:assert/strict";
import { it } from "node:test";
import { containerSkip, stopSharedContainer } from "./_container.ts";
import "./systemd/boot.ts";
import "./systemd/activation.ts";
import "./systemd/notify.ts";
import "./systemd/units.ts";
import "./systemd/serve.ts";
import "./systemd/workers.ts";

it(
  "the systemd container powers off and leaves the host unchanged",
  { skip: containerSkip(), timeout: 300_000 },
  async () => {
    const verdict = await stopSharedContainer();
    assert.doesNotMatch(verdict, /FAIL/);
  },
);
