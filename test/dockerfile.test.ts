import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt } from './support/build.js';
import { runBundle } from './support/cli.js';
import { REPO_ROOT } from './support/paths.js';

// No Docker engine runs here, so check what `docker build` would need: every COPY source exists (dist/, built
// first when its sources changed), the runtime stage is Node 24 slim and non-root, and the entrypoint runs --help.
const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').map((l) => l.trim());

describe('Dockerfile', () => {
  it('copies only files that exist', () => {
    ensureBuilt();
    const copies = lines.filter((l) => l.startsWith('COPY '));
    expect(copies.length).toBeGreaterThan(3);
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1);
      const fromStage = parts.some((p) => p.startsWith('--from='));
      const sources = parts.filter((p) => !p.startsWith('--')).slice(0, -1);
      for (const source of sources) {
        const path = fromStage ? join(REPO_ROOT, source.replace(/^\/src\//, '')) : join(REPO_ROOT, source);
        expect(existsSync(path), `${line}: ${source}`).toBe(true);
      }
    }
  });

  it('is multi-stage on Node 24 slim and runs as non-root', () => {
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:24-slim/);
    const user = lines.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/USER (root|0)(:|$)/);
  });

  it('links every program and its entrypoint + default command print help', () => {
    expect(dockerfile).toContain('/usr/local/bin/lockstep');
    expect(dockerfile).toContain('/usr/local/bin/kubectl-lockstep');
    expect(dockerfile).toContain('/usr/local/bin/kubectl_complete-lockstep');
    expect(lines).toContain('ENTRYPOINT ["lockstep"]');
    expect(lines).toContain('CMD ["--help"]');
    for (const bundle of ['lockstep.mjs', 'plugin/kubectl-lockstep.mjs', 'plugin/kubectl_complete-lockstep.mjs']) {
      const mode = statSync(join(ensureBuilt(), bundle)).mode;
      expect(mode & 0o111).not.toBe(0);
    }
    const r = runBundle('lockstep', ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: lockstep');
  });

  it('carries the OCI annotations, version and licence those of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
      license: string;
    };
    const labels = new Map(
      [...dockerfile.matchAll(/(org\.opencontainers\.image\.[a-z]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    expect(labels.get('org.opencontainers.image.version')).toBe(pkg.version);
    expect(labels.get('org.opencontainers.image.licenses')).toBe(pkg.license);
    expect(labels.get('org.opencontainers.image.source')).toBe('https://github.com/lockstep-dev/lockstep');
  });

  it('every program prints the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const program of ['lockstep', 'kubectl-lockstep'] as const) {
      const r = runBundle(program, ['--version']);
      expect(r.status, program).toBe(0);
      expect(r.stdout, program).toBe(`${pkg.version}\n`);
    }
    // the image every manifest names is the same version
    expect(readFileSync(join(REPO_ROOT, 'install.yaml'), 'utf8')).toContain(
      `ghcr.io/lockstep-dev/lockstep:v${pkg.version}`,
    );
  });
});
