/**
 * What the launcher API (`handover/launcher`) exports, without loading
 * anything: `launcher.ts` adds the load for ES modules, and
 * `src/cli/commonjs.ts` for the CommonJS build.
 *
 * @module
 */

export {
  type AppConfig,
  type AppSnapshot,
  AppStartError,
  type AppState,
  type Duration,
  Launcher,
  type LauncherConfig,
  type LauncherEvents,
  type NotifyAccess,
  type RestartPolicy,
  type SupervisorPhase,
} from "./launcher.ts";
export { ConfigError } from "./config.ts";
