#!/usr/bin/env node
// Counts the code blocks of the JSDoc @example tags in mod.ts, activation.ts, launcher.ts and src/, and how
// many of them `deno test --doc` runs: a fence whose info string says `ignore` is skipped by it,
// every other one is type-checked and run (a fence without a language is TypeScript in a .ts
// file). At least 80% of them must run, so that the examples users read cannot drift from the
// code they describe.
//
// Usage: node .ci/doc_examples.mjs [--list]   (prints "N of M doc examples run (P%)", and with
// --list every example left as `ignore`; exit 1 below 80%)
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MIN_RUN_SHARE = 0.8;

/** The TypeScript files of a directory, recursively, in a stable order. */
function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return tsFiles(path);
      return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
    });
}

/**
 * The fences opened inside the @example tags of a file's JSDoc comments: { line, info }.
 * A tag runs until the next line that starts with a tag, or the end of the comment; a fence
 * inside it runs until its closing fence (so a `@` line inside code does not end the tag).
 */
function exampleFences(text) {
  const found = [];
  const lines = text.split("\n");
  let inComment = false;
  let inExample = false;
  let fence = null; // the opening fence's backticks while inside a code block
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!inComment) {
      if (/^\s*\/\*\*/.test(line) && !/\*\/\s*$/.test(line.replace(/^\s*\/\*\*/, ""))) {
        inComment = true;
        inExample = false;
        fence = null;
      }
      continue;
    }
    if (/\*\/\s*$/.test(line) && fence === null) {
      inComment = false;
      continue;
    }
    const body = line.replace(/^\s*\*\s?/, "");
    if (fence !== null) {
      if (body.trimEnd() === fence) fence = null;
      continue;
    }
    if (/^@\w+/.test(body)) inExample = body.startsWith("@example");
    const open = /^(`{3,})(.*)$/.exec(body);
    if (open) {
      fence = open[1];
      if (inExample) found.push({ line: i + 1, info: open[2].trim() });
    }
  }
  return found;
}

const files = [
  join(root, "mod.ts"),
  join(root, "activation.ts"),
  join(root, "launcher.ts"),
  ...tsFiles(join(root, "src")),
];
let total = 0;
const ignored = []; // { file, line }
for (const file of files) {
  for (const { line, info } of exampleFences(readFileSync(file, "utf8"))) {
    total++;
    if (info.split(/\s+/).includes("ignore")) ignored.push({ file: relative(root, file), line });
  }
}

const run = total - ignored.length;
const share = total === 0 ? 1 : run / total;
console.log(`${run} of ${total} doc examples run (${(share * 100).toFixed(1)}%)`);
if (process.argv.includes("--list")) {
  for (const { file, line } of ignored) console.log(`  ignore: ${file}:${line}`);
}
if (share < MIN_RUN_SHARE) {
  console.error(`at least ${MIN_RUN_SHARE * 100}% must run under deno test --doc; mark fewer as ignore`);
  process.exit(1);
}
