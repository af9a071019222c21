import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { componentLogger, createLogger, silentLogger } from '../src/log.js';

function sink(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logging', () => {
  it('writes one JSON object per line with level, time and the component', () => {
    const s = sink();
    const log = componentLogger(createLogger({ level: 'info', sink: s.stream }), 'publisher');
    log.info({ slices: 2 }, 'published');
    log.debug('hidden below the level');
    const [line, ...rest] = s.lines();
    expect(rest).toHaveLength(0);
    expect(line).toMatchObject({ level: 30, component: 'publisher', slices: 2, msg: 'published' });
    expect(typeof line?.time).toBe('string');
  });

  it("names the program's component on every line when asked to", () => {
    const s = sink();
    createLogger({ level: 'info', sink: s.stream, component: 'coordinator' }).info('listening');
    expect(s.lines()).toEqual([expect.objectContaining({ component: 'coordinator', msg: 'listening' })]);
  });

  it('honours --log-level', () => {
    const s = sink();
    const log = createLogger({ level: 'debug', sink: s.stream });
    log.debug('shown');
    expect(s.lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it('has a silent logger for library callers', () => {
    expect(() => silentLogger().error('nothing')).not.toThrow();
    expect(silentLogger().level).toBe('silent');
  });
});
