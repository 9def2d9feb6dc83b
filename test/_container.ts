// The real systemd as PID 1 of a throw-away container, through
// ../shared/tools/systemd-container (root only; boots in about a second and
// never writes to the host). Tests that need it skip with containerSkip()'s
// reason where it cannot run; CI sets HANDOVER_REQUIRE_CONTAINER=1 so that a
// skip there fails instead.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type ChildResult, ROOT, run, RUNTIME, TSX_LOADER } from "./_helpers.ts";

export const CONTAINER_TOOLS: string = resolve(ROOT, "..", "shared", "tools", "systemd-container");

/** Why the container cannot run here, or undefined when it can. */
export function containerSkip(): string | false {
  let reason: string | undefined;
  if (!existsSync(join(CONTAINER_TOOLS, "boot.sh"))) reason = `${CONTAINER_TOOLS}/boot.sh is missing`;
  else if (process.getuid?.() !== 0) reason = "the systemd container needs root";
  else if (!existsSync("/lib/systemd/systemd")) reason = "/lib/systemd/systemd is not installed";
  if (reason === undefined) return false;
  if (process.env.HANDOVER_REQUIRE_CONTAINER === "1") {
    // In CI a missing peer is a failure, not a skip.
    return false;
  }
  return `no systemd container: ${reason}`;
}

/** Why the container cannot run, for tests that must fail in CI instead of skipping. */
export function requireContainer(): void {
  if (!existsSync(join(CONTAINER_TOOLS, "boot.sh"))) assert.fail(`${CONTAINER_TOOLS}/boot.sh is missing`);
  if (process.getuid?.() !== 0) assert.fail("the systemd container needs root (HANDOVER_REQUIRE_CONTAINER=1)");
  // The container mounts its own tmpfs over these, so a project below them is invisible inside.
  for (const hidden of ["/tmp/", "/var/tmp/", "/run/", "/dev/shm/"]) {
    for (
      const [what, path] of [["the project", realpathSync(ROOT)], [
        "the container tools",
        realpathSync(CONTAINER_TOOLS),
      ]]
    ) {
      if (`${path}/`.startsWith(hidden)) {
        assert.fail(
          `${what} is at ${path}, below ${hidden}, which the container replaces with its own tmpfs; check it out elsewhere`,
        );
      }
    }
  }
}

/** A running container; stop it in a finally block. */
export class Container {
  readonly name: string;
  private readonly scratch: string;

  private constructor(name: string) {
    this.name = name;
    this.scratch = mkdtempSync(join(tmpdir(), `handover-${name}-`));
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, SDH_NAME: this.name };
  }

  /** Boots a container named after the test file and runtime (unique per process). */
  static async boot(label: string): Promise<Container> {
    requireContainer();
    // libmount creates /run/mount on the first mount; make it exist before the
    // host snapshot so that the after-boot host check stays clean.
    mkdirSync("/run/mount", { recursive: true });
    const name = `ho-${label}-${process.pid}`.replace(/[^a-zA-Z0-9-]/g, "-").slice(0, 40);
    const container = new Container(name);
    const result = await run(join(CONTAINER_TOOLS, "boot.sh"), [name], { env: container.env(), timeoutMs: 120_000 });
    if (result.code !== 0) {
      await container.stop().catch(() => {});
      assert.fail(`boot.sh ${name} failed (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
    }
    return container;
  }

  /** Runs a command inside the container. */
  exec(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ChildResult> {
    return run(join(CONTAINER_TOOLS, "sdexec.sh"), args, {
      env: this.env(),
      timeoutMs: options.timeoutMs ?? 60_000,
      input: options.input,
    });
  }

  /** Runs a command inside the container and fails the test unless it exits 0; returns its stdout. */
  async ok(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const result = await this.exec(args, options);
    assert.equal(result.code, 0, `${args.join(" ")} exited ${result.code}: ${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }

  /** Writes unit files (name → text) into /etc/systemd/system and reloads systemd. */
  async installUnits(units: Readonly<Record<string, string>>): Promise<void> {
    const files = Object.entries(units).map(([name, text]) => {
      const path = join(this.scratch, name);
      writeFileSync(path, text);
      return path;
    });
    const result = await run(join(CONTAINER_TOOLS, "install-units.sh"), files, { env: this.env(), timeoutMs: 60_000 });
    assert.equal(result.code, 0, `install-units.sh failed: ${result.stdout}\n${result.stderr}`);
  }

  /** Copies host files into a directory of the container (for files made after boot). */
  async copyIn(files: readonly string[], directory: string): Promise<void> {
    const result = await run(join(CONTAINER_TOOLS, "ctcp.sh"), [...files, directory], {
      env: this.env(),
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, `ctcp.sh failed: ${result.stdout}\n${result.stderr}`);
  }

  /** `systemctl show -p NAME…` as an object. */
  async show(unit: string, properties: readonly string[]): Promise<Record<string, string>> {
    const out = await this.ok(["systemctl", "show", unit, ...properties.map((p) => `-p${p}`)]);
    return Object.fromEntries(
      out.trim().split("\n").filter(Boolean).map((line) => {
        const at = line.indexOf("=");
        return [line.slice(0, at), line.slice(at + 1)];
      }),
    );
  }

  /** The journal of a unit, for failure messages. */
  async journal(unit: string): Promise<string> {
    return (await this.exec(["journalctl", "-u", unit, "-o", "cat", "--no-pager"])).stdout;
  }

  /** Powers the container off and checks the host; returns the host check's verdict line. */
  async stop(): Promise<string> {
    const result = await run(join(CONTAINER_TOOLS, "stop.sh"), [this.name], { env: this.env(), timeoutMs: 120_000 });
    rmSync(this.scratch, { recursive: true, force: true });
    const verdict = `${result.stdout}\n${result.stderr}`.split("\n").find((l) => l.includes("hostdiff")) ?? "";
    // Exit 3 means the host changed: that must never pass silently.
    assert.notEqual(result.code, 3, `the container changed the host: ${result.stdout}\n${result.stderr}`);
    return verdict;
  }
}

let shared: Promise<Container> | undefined;

/**
 * The one container of this test process (test/systemd.test.ts), booted at
 * the first call. The cases share it: a boot and the host check around it
 * take most of a minute on a loaded machine, so a container per case would
 * cost more than the cases. Each case uses its own unit names and ports and
 * stops its units when it ends.
 */
export function sharedContainer(): Promise<Container> {
  shared ??= Container.boot(`sd-${RUNTIME}`);
  return shared;
}

/** Stops the shared container, if one was booted; returns the host check's verdict line. */
export async function stopSharedContainer(): Promise<string> {
  const booting = shared;
  shared = undefined;
  // A boot that failed has already been stopped (and failed the cases that needed it).
  const container = await booting?.catch(() => undefined);
  return container === undefined ? "" : await container.stop();
}

/** The command line, inside the container, that runs a project file in a runtime. */
export function serviceCommand(runtime: "deno" | "bun" | "node", script: string, args: readonly string[] = []): string {
  const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);
  const file = resolve(ROOT, script);
  const argv = runtime === "deno"
    ? [bin("deno"), "run", "-A", "--no-check", file]
    : runtime === "bun"
    ? [bin("bun"), file]
    : ["/usr/bin/node", "--import", TSX_LOADER, file];
  return [...argv, ...args].join(" ");
}
