import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bundlePath } from '../support/build.js';
import { ENTRY } from './entry-points.js';

const ROOT = join(import.meta.dirname, '..', '..');
const TEMPLATE = readFileSync(join(ROOT, 'deploy/krew/lockstep.yaml'), 'utf8');

/** What krew-release-bot does with the template on a release tag (the sha256 here is a stand-in; `npm run package`
 * fills in the real ones, test/release/sea.test.ts checks them). */
function render(tag: string): unknown {
  const sha = 'ab'.repeat(32);
  return parse(
    TEMPLATE.replace(/\{\{ addURIAndSha "([^"]+)" \.TagName \}\}/g, (_, uri: string) => {
      const url = uri.replace(/\{\{ \.TagName \}\}/g, tag);
      return `uri: ${url}\n    sha256: ${sha}`;
    }).replace(/\{\{ \.TagName \}\}/g, tag),
  );
}

interface Platform {
  selector: { matchLabels: Record<string, string> };
  uri: string;
  sha256: string;
  bin: string;
  files: { from: string; to: string }[];
}

describe('deploy/krew/lockstep.yaml', () => {
  it('renders to a manifest that follows krew’s rules', () => {
    const m = render('v0.1.0') as {
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      spec: { version: string; homepage: string; shortDescription: string; description: string; platforms: Platform[] };
    };
    expect(m.apiVersion).toBe('krew.googlecontainertools.github.com/v1alpha2');
    expect(m.kind).toBe('Plugin');
    // krew: the plugin name is what follows `kubectl-` in the binary
    expect(m.metadata.name).toBe('lockstep');
    expect(m.spec.version).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(m.spec.shortDescription.length).toBeLessThanOrEqual(80);
    for (const verb of ['nodes', 'devices', 'topo', 'groups', 'group', 'pods', 'check']) {
      expect(m.spec.description).toContain(`kubectl lockstep ${verb}`);
    }
    const seen = new Set<string>();
    for (const p of m.spec.platforms) {
      const { os, arch } = p.selector.matchLabels;
      seen.add(`${os}/${arch}`);
      expect(p.uri).toBe(
        `https://github.com/lockstep-dev/lockstep/releases/download/v0.1.0/kubectl-lockstep_v0.1.0_${os}_${arch}.tar.gz`,
      );
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
      // one standalone executable per archive (scripts/package.mjs), with the licence beside it
      expect(p.files).toEqual([
        { from: 'kubectl-lockstep', to: '.' },
        { from: 'LICENSE', to: '.' },
      ]);
      expect(p.bin).toBe('kubectl-lockstep');
    }
    expect([...seen].sort()).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('names bundles the build produces', () => {
    for (const e of ENTRY) expect(existsSync(bundlePath(e)), e).toBe(true);
  });
});
