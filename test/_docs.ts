// The docs' own code, as tests run it: a fenced block of README.md or docs/*.md written to a file whose
// imports of "handover" (and "@handover/handover", "jsr:…", "…/activation") name the build users import in
// the runtime under test: the npm package's dist/node.js or dist/bun.js (its export conditions), the
// TypeScript modules for Deno (JSR). `npm test` builds dist/ first.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, RUNTIME } from "./_helpers.ts";

const BUILDS = {
  node: { main: "dist/node.js", activation: "dist/activation-node.js", launcher: "dist/launcher-node.js" },
  bun: { main: "dist/bun.js", activation: "dist/activation-bun.js", launcher: "dist/launcher-bun.js" },
  deno: { main: "mod.ts", activation: "activation.ts", launcher: "launcher.ts" },
} as const;

/**
 * The code of the fenced block in `file` (relative to the repo) whose first line is `// NAME`, or, when
 * `name` is a RegExp, the first block whose code matches it.
 */
export function docBlock(file: string, name: string | RegExp): string {
  const text = readFileSync(join(ROOT, file), "utf8");
  for (const match of text.matchAll(/^```(?:ts|js|typescript)[^\n]*\n([\s\S]*?)^```$/gm)) {
    const code = match[1]!;
    if (typeof name === "string" ? code.startsWith(`// ${name}\n`) : name.test(code)) return code;
  }
  throw new Error(`${file} has no code block ${name}`);
}

/** Writes a doc block to `dir/fileName` with its handover imports pointing at this runtime's build; returns the path. */
export function writeDocBlock(dir: string, fileName: string, code: string): string {
  const builds = BUILDS[RUNTIME];
  const url = (path: string) => pathToFileURL(join(ROOT, path)).href;
  const rewritten = code.replace(
    /(from\s*|import\(\s*)"(?:jsr:|npm:)?(?:@handover\/handover|handover)(\/activation|\/launcher)?"/g,
    (_all, before: string, entry: string | undefined) =>
      `${before}"${
        url(entry === "/activation" ? builds.activation : entry === "/launcher" ? builds.launcher : builds.main)
      }"`,
  );
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName);
  writeFileSync(path, rewritten);
  return path;
}
