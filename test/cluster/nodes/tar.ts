/** A minimal reader for ustar archives (`git archive` output): regular files and directories only. */
export interface TarEntry {
  path: string;
  type: 'file' | 'dir' | 'other';
  content: Buffer;
}

export function readTar(buf: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a: number, n: number) =>
      header
        .subarray(a, a + n)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = Number.parseInt(str(124, 12).trim() || '0', 8);
    const flag = String.fromCharCode(header[156]!);
    const prefix = str(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    longName = undefined;
    const content = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (flag === 'g' || flag === 'x') continue; // pax headers (git archive writes the commit id in one)
    if (flag === 'L') {
      longName = content.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    entries.push({
      path: name,
      type: flag === '5' ? 'dir' : flag === '0' || flag === '\0' ? 'file' : 'other',
      content: Buffer.from(content),
    });
  }
  return entries;
}
