/**
 * Unpacks a ttar text archive (the format of prometheus/node_exporter's and prometheus/procfs's sysfs fixtures):
 * records separated by `# ttar - - -` lines; `Directory: <path>` + `Mode:`; `Path: <path>` followed by either
 * `SymlinkTo: <target>` or `Lines: <n>`, n content lines and `Mode:`. A last content line ending in `EOF` means the
 * file has no trailing newline; `NULLBYTE` stands for a NUL byte.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';

export interface TtarOptions {
  /** keep only entries below this prefix, and strip it (e.g. `fixtures/sys/` → written as `<dest>/…`) */
  stripPrefix?: string;
}

export async function unpackTtar(text: string, dest: string, opts: TtarOptions = {}): Promise<number> {
  const lines = text.split('\n');
  let written = 0;
  const target = (p: string): string | undefined => {
    const clean = normalize(p);
    if (clean.startsWith('..') || clean.startsWith('/')) throw new Error(`ttar: unsafe path "${p}"`);
    if (opts.stripPrefix === undefined) return join(dest, clean);
    if (!`${clean}/`.startsWith(opts.stripPrefix)) return undefined;
    const rest = `${clean}/`.slice(opts.stripPrefix.length).replace(/\/$/, '');
    return join(dest, rest);
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const dirMatch = /^Directory: (.+)$/.exec(line);
    if (dirMatch) {
      const t = target(dirMatch[1]!);
      if (t) await mkdir(t, { recursive: true });
      continue;
    }
    const pathMatch = /^Path: (.+)$/.exec(line);
    if (!pathMatch) continue;
    const path = pathMatch[1]!;
    const next = lines[i + 1] ?? '';
    const t = target(path);
    const sl = /^SymlinkTo: (.+)$/.exec(next);
    const ln = /^Lines: (\d+)$/.exec(next);
    if (sl) {
      i++;
      if (t) {
        await mkdir(dirname(t), { recursive: true });
        await symlink(sl[1]!, t);
        written++;
      }
    } else if (ln) {
      const n = Number(ln[1]);
      const body = lines.slice(i + 2, i + 2 + n);
      i += 1 + n;
      let content = body.map((l) => l.replace(/NULLBYTE/g, '\0')).join('\n');
      if (n > 0) content = content.endsWith('EOF') ? content.slice(0, -3) : `${content}\n`;
      if (t) {
        await mkdir(dirname(t), { recursive: true });
        await writeFile(t, content);
        written++;
      }
    } else {
      throw new Error(`ttar: line ${i + 2}: expected SymlinkTo: or Lines: after Path: ${path}`);
    }
  }
  return written;
}
