/**
 * Reasons and messages in tables: peers and agents write them (an XID message is several sentences, ends with how to
 * clear the fault, and may be 1 KB), and one such cell would push every other column off the screen. In a table a
 * reason is one line of at most REASON_WIDTH characters, without the clear-XID instruction, which is printed once
 * under the table; -o wide and -o json carry the whole text.
 *
 * Threats (tested in test/kubectl/render/reason.test.ts): a multi-line or control-character reason (cleaned by
 * src/text/untrusted.ts before it is measured, so a cut never leaves half an escape sequence); a reason longer than
 * a terminal; the same hint repeated on every row.
 */
import { cleanText } from '../../text/untrusted.js';

/** Most characters of a reason in a table cell (kubectl's own columns rarely pass this). */
export const REASON_WIDTH = 120;

// what the agent's XID monitor appends to every XID message (agent/health/xid-monitor.ts)
const CLEAR_XID_HINT = /\s*After a GPU reset, clear with: echo (\S+) > (\S+)\.?/g;

/** Pure: one table line of a reason, and the clear-XID file it pointed at when it carried the hint. */
export function shortReason(text: string, width = REASON_WIDTH): { text: string; clearFile?: string } {
  let clearFile: string | undefined;
  const withoutHint = text.replace(CLEAR_XID_HINT, (_all, _device: string, file: string) => {
    clearFile ??= file;
    return '';
  });
  const line = cleanText(withoutHint)
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[.;,:]$/, '');
  const cut = line.length <= width ? line : `${line.slice(0, width - 1).trimEnd()}…`;
  return clearFile === undefined ? { text: cut } : { text: cut, clearFile };
}

/**
 * Collects what the reason cells of one table left out, so the table can say it once. Made per drawing: `cell`
 * shortens (unless wide), `footer` is the text to print under the table.
 */
export class ReasonCells {
  private readonly clearFiles = new Set<string>();

  constructor(private readonly wide: boolean) {}

  cell(text: string | undefined): string | undefined {
    if (text === undefined || text === '') return undefined;
    if (this.wide) return text;
    const short = shortReason(text);
    if (short.clearFile) this.clearFiles.add(short.clearFile);
    return short.text;
  }

  /** One line per distinct clear-XID file (normally one: every agent has the same state dir). */
  footer(): string {
    return [...this.clearFiles]
      .map(
        (file) =>
          `\nAfter a GPU reset, clear its XID fault on the node with: echo <device> > ${cleanText(file, 256)}` +
          ' (-o wide shows whole reasons)\n',
      )
      .join('');
  }
}
