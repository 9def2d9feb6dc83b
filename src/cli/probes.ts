/**
 * `handover probes`: the Kubernetes readiness and liveness probes and a
 * Dockerfile `ENTRYPOINT` for a launcher run with `--health`, as
 * `handover unit` prints systemd units for the same app.
 *
 * @module
 */

import { parseHealthAddress } from "./health.ts";

/**
 * The probe snippet for `handover probes [--health ADDR] [--] [COMMAND…]`.
 *
 * @param argv The arguments after `probes`.
 * @returns The text: a Dockerfile ENTRYPOINT and the container's probes, in YAML.
 * @throws {RangeError} On a bad `--health` value or an unknown option.
 *
 * @example
 * ```ts
 * import { probeSnippet } from "./probes.ts";
 * probeSnippet(["--health", ":9000", "--", "node", "server.js"]).includes("port: 9000"); // true
 * ```
 */
export function probeSnippet(argv: readonly string[]): string {
  let health = ":8081";
  let command: readonly string[] = ["node", "server.js"];
  const sockets: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      if (argv.length > i + 1) command = argv.slice(i + 1);
      break;
    }
    if (arg === "--health" || arg === "-s" || arg === "--socket") {
      const value = argv[++i];
      if (value === undefined) throw new RangeError(`Expected a value after ${arg}`);
      if (arg === "--health") health = value;
      else sockets.push(value);
    } else if (arg.startsWith("--health=")) health = arg.slice(9);
    else if (arg.startsWith("-")) throw new RangeError(`Unknown option ${arg} for handover probes (see --health, -s)`);
    else {
      command = argv.slice(i);
      break;
    }
  }
  const { port } = parseHealthAddress(health);
  if (port === 0) throw new RangeError("Expected a fixed --health port for probes, got port 0");
  const socketArgs = (sockets.length > 0 ? sockets : ["web=http:0.0.0.0:8080"]).flatMap((s) => ["-s", s]);
  const entrypoint = ["npx", "handover", "--health", `:${port}`, ...socketArgs, "--", ...command];
  return `# Dockerfile: handover as PID 1 (it reaps zombies, passes SIGTERM on, exits with the app's status)
ENTRYPOINT ${JSON.stringify(entrypoint).replaceAll('","', '", "')}

# Kubernetes: the container's probes (/readyz: READY=1 and not reloading or stopping;
# /livez: the app runs and feeds its watchdog)
readinessProbe:
  httpGet:
    path: /readyz
    port: ${port}
  periodSeconds: 2
  failureThreshold: 1
livenessProbe:
  httpGet:
    path: /livez
    port: ${port}
  periodSeconds: 10
  failureThreshold: 3
startupProbe:
  httpGet:
    path: /readyz
    port: ${port}
  periodSeconds: 1
  failureThreshold: 90
`;
}
