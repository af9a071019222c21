import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { InjectOptions } from '../../src/inject/options.js';
import { injectText } from '../../src/inject/text.js';

/**
 * Golden files: each manifest in fixtures/ (written from the LWS, vLLM, SGLang, torchrun, JAX and JobSet documented
 * conventions) injected with a fixed image. Set UPDATE_GOLDEN=1 to rewrite them after a deliberate change, then read
 * the diff.
 */
const FIXTURES = join(import.meta.dirname, 'fixtures');
const GOLDEN = join(import.meta.dirname, 'golden');
const TEST_IMAGE = 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test';

const OPTIONS: Record<string, Partial<InjectOptions>> = {
  'no-command.yaml': { engine: 'vllm', commands: [{ words: ['vllm', 'serve'] }] },
};

const fixtures = readdirSync(FIXTURES).sort();

describe('inject golden files', () => {
  it.each(fixtures)('%s', (name) => {
    const input = readFileSync(join(FIXTURES, name), 'utf8');
    const options: InjectOptions = { image: TEST_IMAGE, ...OPTIONS[name] };
    const { output, report } = injectText(input, options);
    const golden = join(GOLDEN, name);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, output);
    expect(output).toBe(readFileSync(golden, 'utf8'));
    // every change is explained; the one fixture without a recognisable engine says so instead of wrapping
    expect(report.changes.length).toBeGreaterThan(0);
    expect(report.warnings.length).toBe(name === 'unknown-engine.yaml' ? 1 : 0);
  });

  it.each(fixtures)('%s: injecting twice changes nothing', (name) => {
    const once = readFileSync(join(GOLDEN, name), 'utf8');
    const options: InjectOptions = { image: TEST_IMAGE, ...OPTIONS[name] };
    const twice = injectText(once, options);
    expect(twice.output).toBe(once);
    expect(twice.report.changes).toEqual([]);
  });

  it.each(fixtures.filter((f) => f.endsWith('.yaml')))('%s: comments and untouched documents survive', (name) => {
    const input = readFileSync(join(FIXTURES, name), 'utf8');
    const output = readFileSync(join(GOLDEN, name), 'utf8');
    const comments = (text: string) =>
      text
        .split('\n')
        .map((line) => /#\s.*$/.exec(line)?.[0])
        .filter((c): c is string => c !== undefined && !c.includes('"'));
    for (const comment of comments(input)) expect(output).toContain(comment);
    const before = parseAllDocuments(input);
    const after = parseAllDocuments(output);
    expect(Array.isArray(after) && after.length).toBe(Array.isArray(before) && before.length);
  });
});
