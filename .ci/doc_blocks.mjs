#!/usr/bin/env node
// Type-checks every TypeScript and JavaScript block in README.md and docs/*.md, so that no
// example in the user docs drifts from the API. Each block becomes a module of its own in
// .cache/doc_blocks/ (imports of the package rewritten to this checkout's mod.ts,
// activation.ts and launcher.ts), and `deno check` checks them all with the repository's compiler options.
//
// The info string of a fence says what happens to a block:
//
//   ```ts                    checked as a TypeScript module (also `typescript`)
//   ```js                    checked as a JavaScript module (`// @ts-check`; also `javascript`)
//   ```ts bun                uses Bun's globals: checked with bun-types, in a run of its own
//   ```js cjs                CommonJS: written as .cjs (.cts for ts), so require() is what it is
//   ```ts no-check: REASON   not checked; the reason is required, printed, and counted
//   ```js peer: PACKAGE      another package's code, shown beside handover's (docs/migrating.md): not checked,
//                            not counted; any language
//   ```sh, ```ini, ```xml, ```text, ```json (parsed) — not code to check
//
// A fence without an info string, or with one not listed above, fails the run, and so does a
// page where more than a tenth of the code blocks are no-check. Relative links between the
// pages (and their #anchors) are checked too.
//
// Usage: node .ci/doc_blocks.mjs   (prints "N blocks checked, M skipped"; exit 1 on any failure)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".cache", "doc_blocks");
const deno = join(root, "node_modules", ".bin", "deno");

const CODE = new Set(["ts", "typescript", "js", "javascript"]);
const NOT_CODE = new Set(["sh", "bash", "ini", "xml", "text", "json"]);
const MAX_SKIPPED_SHARE = 0.1;

// The package's names, as users import them, mapped to this checkout's entry points.
const ENTRIES = new Map([
  ["handover", "mod.ts"],
  ["npm:handover", "mod.ts"],
  ["@handover/handover", "mod.ts"],
  ["jsr:@handover/handover", "mod.ts"],
  ["handover/activation", "activation.ts"],
  ["npm:handover/activation", "activation.ts"],
  ["@handover/handover/activation", "activation.ts"],
  ["jsr:@handover/handover/activation", "activation.ts"],
  ["handover/launcher", "launcher.ts"],
  ["npm:handover/launcher", "launcher.ts"],
  ["@handover/handover/launcher", "launcher.ts"],
  ["jsr:@handover/handover/launcher", "launcher.ts"],
]);

const pages = [
  "README.md",
  ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`),
];

const problems = [];
const blocks = []; // { page, line, stem, file, bun, body }
const skipped = []; // { page, line, reason }

/** Splits a page into its fenced blocks: { line (of the opening fence), info, body }. */
function fencedBlocks(text, page) {
  const lines = text.split("\n");
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const start = i;
    const body = [];
    for (i++; i < lines.length; i++) {
      if (
        lines[i].trim().startsWith(fence[0].repeat(fence.length)) && lines[i].trim().replaceAll(fence[0], "") === ""
      ) {
        break;
      }
      body.push(lines[i]);
    }
    if (i === lines.length) problems.push(`${page}:${start + 1}: the fence opened here is never closed`);
    found.push({ line: start + 1, info: open[2].trim(), body: body.join("\n") });
  }
  return found;
}

/** Rewrites the package's import specifiers to relative paths into this checkout. */
function rewriteImports(body, file) {
  return body.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)(["'])([^"'\n]+)\2/g,
    (match, before, quote, specifier) => {
      const entry = ENTRIES.get(specifier);
      if (entry === undefined) return match;
      let path = relative(dirname(file), join(root, entry)).replaceAll("\\", "/");
      if (!path.startsWith(".")) path = `./${path}`;
      return `${before}${quote}${path}${quote}`;
    },
  );
}

for (const page of pages) {
  const text = readFileSync(join(root, page), "utf8");
  const stem = page.replace(/\.md$/, "").replaceAll("/", "-");
  let codeBlocks = 0;
  let pageSkipped = 0;
  for (const block of fencedBlocks(text, page)) {
    const [language = "", ...rest] = block.info.split(/\s+/).filter(Boolean);
    const attributes = rest.join(" ");
    if (language === "") {
      problems.push(`${page}:${block.line}: a fence without an info string (use ts, js, sh, ini, xml, text or json)`);
      continue;
    }
    if (/^peer:\s*\S/.test(attributes)) continue;
    if (NOT_CODE.has(language)) {
      if (language === "json") {
        try {
          JSON.parse(block.body);
        } catch (error) {
          problems.push(`${page}:${block.line}: the json block does not parse: ${error.message}`);
        }
      }
      continue;
    }
    if (!CODE.has(language)) {
      problems.push(`${page}:${block.line}: unknown info string "${block.info}"`);
      continue;
    }
    codeBlocks++;
    const noCheck = /^no-check(?::\s*(.*))?$/.exec(attributes);
    if (noCheck) {
      const reason = (noCheck[1] ?? "").trim();
      if (reason === "") problems.push(`${page}:${block.line}: "no-check" needs a reason: \`\`\`ts no-check: why`);
      skipped.push({ page, line: block.line, reason });
      pageSkipped++;
      continue;
    }
    const flags = new Set(attributes.split(/\s+/).filter(Boolean));
    for (const flag of flags) {
      if (flag !== "bun" && flag !== "cjs") problems.push(`${page}:${block.line}: unknown attribute "${flag}"`);
    }
    const typescript = language === "ts" || language === "typescript";
    const extension = flags.has("cjs") ? (typescript ? "cts" : "cjs") : (typescript ? "ts" : "js");
    const file = join(out, `${stem}_${blocks.filter((b) => b.page === page).length + 1}.${extension}`);
    const header = [`// ${page}:${block.line} (generated by .ci/doc_blocks.mjs)`];
    if (flags.has("bun")) header.push('/// <reference types="bun-types" />');
    if (!typescript) header.push("// @ts-check");
    // Every block is a module of its own, so that blocks never share top-level names.
    const footer = flags.has("cjs") ? "" : "\nexport {};\n";
    blocks.push({
      page,
      line: block.line,
      file,
      bun: flags.has("bun"),
      headerLines: header.length,
      body: `${header.join("\n")}\n${rewriteImports(block.body, file)}\n${footer}`,
    });
  }
  if (codeBlocks > 0 && pageSkipped / codeBlocks > MAX_SKIPPED_SHARE) {
    problems.push(`${page}: ${pageSkipped} of ${codeBlocks} code blocks are no-check (at most a tenth may be)`);
  }
}

// Relative links between the pages, and their anchors (GitHub's slugs).
const slug = (heading) =>
  heading.trim().toLowerCase().replace(/<[^>]*>/g, "").replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
const anchorsOf = new Map();
function anchors(page) {
  if (!anchorsOf.has(page)) {
    const text = readFileSync(join(root, page), "utf8").replace(/^ {0,3}(`{3,}|~{3,})[^]*?^ {0,3}\1\s*$/gm, "");
    const seen = new Map();
    const set = new Set();
    for (const match of text.matchAll(/^#{1,6}\s+(.*)$/gm)) {
      const base = slug(match[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      set.add(count === 0 ? base : `${base}-${count}`);
    }
    anchorsOf.set(page, set);
  }
  return anchorsOf.get(page);
}
for (const page of pages) {
  const text = readFileSync(join(root, page), "utf8").replace(/^ {0,3}(`{3,}|~{3,})[^]*?^ {0,3}\1\s*$/gm, "");
  for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = match[1];
    if (/^[a-z]+:/i.test(target)) continue;
    const [path, anchor] = target.split("#");
    const targetPage = path === "" ? page : relative(root, join(root, dirname(page), path)).replaceAll("\\", "/");
    if (!existsSync(join(root, targetPage))) {
      problems.push(`${page}: the link (${target}) points to ${targetPage}, which does not exist`);
    } else if (anchor !== undefined && targetPage.endsWith(".md") && !anchors(targetPage).has(anchor)) {
      problems.push(`${page}: the link (${target}) names #${anchor}, which ${targetPage} has no heading for`);
    }
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// deno.json excludes .cache/, so the blocks get a configuration of their own: the repository's compiler
// options, and its dependencies (for node:*'s @types/node and bun-types) from the node_modules above.
const denoConfig = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
writeFileSync(
  join(out, "deno.json"),
  JSON.stringify({ compilerOptions: denoConfig.compilerOptions, nodeModulesDir: "manual" }, null, 2),
);
writeFileSync(
  join(out, "package.json"),
  JSON.stringify(
    {
      private: true,
      type: "module",
      dependencies: pkg.dependencies,
      devDependencies: pkg.devDependencies,
      peerDependencies: pkg.peerDependencies,
    },
    null,
    2,
  ),
);
for (const block of blocks) writeFileSync(block.file, block.body);

/** Runs deno check on some blocks; prints its output with each block's page and line. */
function check(group) {
  if (group.length === 0) return true;
  const result = spawnSync(
    deno,
    ["check", "--quiet", "--config", join(out, "deno.json"), ...group.map((b) => relative(root, b.file))],
    {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", RUST_BACKTRACE: "0" },
    },
  );
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.replace(
    /(?:file:\/\/)?[^\s:]*\.cache\/doc_blocks\/([^\s:]+):(\d+):(\d+)/g,
    (match, name, line, column) => {
      const block = group.find((b) => b.file === join(out, name));
      if (!block) return match;
      const pageLine = block.line + Number(line) - block.headerLines;
      return `${block.page}:${pageLine}:${column} (.cache/doc_blocks/${name}:${line})`;
    },
  );
  if (output.trim() !== "") process.stdout.write(output.endsWith("\n") ? output : `${output}\n`);
  if (result.error) problems.push(`deno check could not run: ${result.error.message}`);
  return result.status === 0;
}

// Blocks that use Bun's globals are checked apart, so that bun-types does not declare Bun for the others.
const checkedOk = check(blocks.filter((b) => !b.bun)) & check(blocks.filter((b) => b.bun));
if (!checkedOk) problems.push("deno check failed on the blocks above");

for (const { page, line, reason } of skipped) console.log(`skipped ${page}:${line}: ${reason || "(no reason)"}`);
for (const problem of problems) console.log(`error: ${problem}`);
console.log(`${blocks.length} blocks checked, ${skipped.length} skipped`);
process.exit(problems.length === 0 ? 0 : 1);
