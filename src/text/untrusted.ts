/**
 * Text that a peer wrote (a member's pod name or engine message, a pod condition's reason, a plugin's registration
 * error) on its way to a terminal or a log line: control characters are replaced and the length is capped, so nothing
 * a peer sends can move the cursor, clear the screen, retitle the window, reorder text, or flood a line.
 *
 * Threats, each tested in test/text/untrusted.test.ts:
 * - ANSI/OSC escape sequences (`\e[2J`, `\e]0;title\a`) and bare C0/C1 controls: every one becomes `?`, so the ESC
 *   that starts a sequence is gone and the rest is inert printable text.
 * - Line breaks that forge extra output lines: CR/LF/TAB and the Unicode line/paragraph separators become a space.
 * - Bidirectional overrides (Trojan Source: U+202A–U+202E, U+2066–U+2069) and zero-width characters that make text
 *   read differently from what it is: replaced with `?`.
 * - Overlong text (a 100,000-character pod name, a 100 KB error): cut at a limit with a marker that says how much was
 *   left out; a cut never splits a surrogate pair.
 */

/** Most characters of one peer-provided string that reach a terminal or log line. */
export const DEFAULT_TEXT_LIMIT = 1024;

/** Longest Kubernetes object name (DNS-1123 subdomain): longer names are not names. */
export const NAME_LIMIT = 253;

// C0 controls except TAB/LF/CR (handled as spaces), DEL, C1 controls; bidi embeddings/overrides/isolates, zero-width
// characters and the BOM.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point of this module
const UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const BREAKS = /[\t\n\r\u2028\u2029]/g;

/** True when the text would reach a terminal exactly as it is (nothing to replace). */
export function isPlainText(text: string): boolean {
  UNSAFE.lastIndex = 0;
  BREAKS.lastIndex = 0;
  return !UNSAFE.test(text) && !BREAKS.test(text);
}

/**
 * The text with control characters replaced (`?`; breaks and tabs as one space each) and cut to `limit` characters,
 * the cut marked `…(+N chars)`. Pure: the same input always gives the same output.
 */
export function cleanText(text: string, limit = DEFAULT_TEXT_LIMIT): string {
  const cut = capLength(text, limit);
  return cut.replace(BREAKS, ' ').replace(UNSAFE, '?');
}

/** A name for display (pod, node): cleaned and cut at the longest valid Kubernetes name. */
export function cleanName(name: string): string {
  return cleanText(name, NAME_LIMIT);
}

function capLength(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = limit;
  // never leave half a surrogate pair at the end
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…(+${text.length - end} chars)`;
}
