/**
 * Tables as kubectl prints them: upper-case headers, columns padded to the widest cell plus three spaces (kubectl's
 * tabwriter: min width 6, padding 3), the last column unpadded, `<none>` for an empty cell.
 */
import { cleanText } from '../../text/untrusted.js';

const NONE = '<none>';

export interface Column<Row> {
  header: string;
  cell: (row: Row) => string | number | undefined;
  /** shown only with -o wide */
  wide?: boolean;
  /** colours a cell; receives the plain text and returns it wrapped in escape codes */
  colour?: (text: string) => string;
}

export interface TableOptions {
  wide: boolean;
  headers: boolean;
  colour: boolean;
  /** -o custom-columns prints headers as the user wrote them */
  keepHeaderCase?: boolean;
}

const ESC = '\u001b[';
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape codes this module writes
const ANSI = /\u001b\[[0-9;]*m/g;

export function visibleLength(text: string): number {
  return text.includes('\u001b') ? text.replace(ANSI, '').length : text.length;
}

/** A cell as printed: peers write pod names, reasons and messages, so control characters never reach the terminal. */
export function cellText(value: string | number | undefined): string {
  if (value === undefined || value === '') return NONE;
  return cleanText(String(value));
}

export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[], options: TableOptions): string {
  const shown = columns.filter((c) => options.wide || !c.wide);
  const body = rows.map((row) =>
    shown.map((c) => {
      const text = cellText(c.cell(row));
      return options.colour && c.colour ? c.colour(text) : text;
    }),
  );
  const lines = options.headers
    ? [shown.map((c) => (options.keepHeaderCase ? c.header : c.header.toUpperCase())), ...body]
    : body;
  if (lines.length === 0) return '';
  const widths = shown.map((_, i) => Math.max(6 - 3, ...lines.map((line) => visibleLength(line[i]!))));
  return lines
    .map((line) =>
      line
        .map((text, i) => (i === line.length - 1 ? text : text + ' '.repeat(widths[i]! - visibleLength(text) + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

function paint(code: string): (text: string) => string {
  return (text) => `${ESC}${code}m${text}${ESC}0m`;
}

export const red = paint('31');
const green = paint('32');
const yellow = paint('33');

/** Health words in colour: green for good, red for bad, yellow for not known. */
export function healthColour(text: string): string {
  if (/^(Healthy|True|Running)\b/.test(text)) return green(text);
  if (/^(Unhealthy|False|Failed)\b/.test(text)) return red(text);
  if (/^(Unknown|Recovering|Forming)\b/.test(text)) return yellow(text);
  return text;
}

/**
 * Colour only on a terminal, and never when NO_COLOR is set to anything non-empty (no-color.org).
 */
export function useColour(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return isTTY === true && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}
