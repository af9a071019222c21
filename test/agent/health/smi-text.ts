import type { GpuDevice } from '../../../agent/discovery/inventory.js';

type MemoryErrors = NonNullable<GpuDevice['memoryErrors']>;

/**
 * Test-only reader of the memory-error sections of `nvidia-smi -q` TEXT output (the recorded captures are text; the
 * agent itself reads `-q -x` XML with discovery's parser). It follows the indentation to know which section a
 * `Key : value` line belongs to, and fills the same fields the XML parser fills.
 */
export function memoryErrorsFromSmiText(text: string): MemoryErrors {
  const out: MemoryErrors = {};
  const stack: { indent: number; name: string }[] = [];
  const num = (v: string) => (/^\d+$/.test(v) ? Number(v) : undefined);
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    const indent = raw.length - raw.trimStart().length;
    while (stack.length && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
    const m = /^\s*([^:]+?)\s*:\s*(.*)$/.exec(raw);
    if (!m) {
      stack.push({ indent, name: raw.trim().toLowerCase() });
      continue;
    }
    const key = (m[1] ?? '').toLowerCase();
    const value = (m[2] ?? '').trim();
    const path = stack.map((s) => s.name);
    const within = (...names: string[]) => names.every((n) => path.includes(n));
    if (
      within('ecc errors', 'volatile') &&
      /uncorrectable|^total$/.test(key) &&
      (key !== 'total' || path.includes('double bit'))
    ) {
      const n = num(value);
      if (n !== undefined) out.uncorrectableVolatile = (out.uncorrectableVolatile ?? 0) + n;
    } else if (within('ecc errors', 'aggregate') && /uncorrectable/.test(key)) {
      const n = num(value);
      if (n !== undefined) out.uncorrectableAggregate = (out.uncorrectableAggregate ?? 0) + n;
    } else if (within('retired pages') && key === 'double bit ecc') {
      const n = num(value);
      if (n !== undefined) out.retiredPagesDoubleBit = n;
    } else if (within('retired pages') && key === 'pending page blacklist') {
      if (/^(yes|no)$/i.test(value)) out.retiredPagesPending = /^yes$/i.test(value);
    } else if (within('remapped rows') && key === 'pending') {
      if (/^(yes|no)$/i.test(value)) out.remappedRowsPending = /^yes$/i.test(value);
    } else if (within('remapped rows') && key === 'remapping failure occurred') {
      if (/^(yes|no)$/i.test(value)) out.remappedRowsFailure = /^yes$/i.test(value);
    }
  }
  return out;
}

/** The fenced code blocks of a markdown document. */
export function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/** Splits `nvidia-smi -q` text into one chunk per `GPU 00000000:…` header, keyed by the normalised bus id. */
export function smiTextByGpu(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/^GPU ([0-9A-Fa-f]{8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const id = (parts[i] ?? '').toLowerCase().replace(/^0000/, '');
    out.set(id, parts[i + 1] ?? '');
  }
  return out;
}
