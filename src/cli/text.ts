/**
 * Text the launcher prints but did not write itself (an app's `STATUS=`, a
 * socket path, an fd name, a command line) made safe for a terminal: control
 * characters would let whoever chose that text move the cursor, rewrite the
 * window title or hide lines (ECMA-48 escape sequences), so they are shown as
 * escapes instead, the way systemctl(1) shows them with `cescape()`.
 *
 * @module
 */

/**
 * C0 controls, DEL, C1 controls (U+009B is an 8-bit CSI), and the bidirectional
 * overrides and isolates that reorder what a terminal shows (CVE-2021-42574).
 */
// deno-lint-ignore no-control-regex
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Replaces every control character of `text` with a visible escape: `\n`,
 * `\t`, `\r`, `\e` for ESC, `\xHH` below U+0100, `\u{HHHH}` above.
 *
 * @param text What to print.
 * @returns The same text with no control character left.
 *
 * @example An app's STATUS= that tries to set the window title
 * ```ts
 * import { printable } from "./text.ts";
 * printable("\x1b]0;pwned\x07ok"); // "\\e]0;pwned\\x07ok"
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (ch) => {
    const code = ch.codePointAt(0)!;
    switch (code) {
      case 0x0a:
        return "\\n";
      case 0x09:
        return "\\t";
      case 0x0d:
        return "\\r";
      case 0x1b:
        return "\\e";
    }
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}
