import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { examplePairs, generate } from '../../deploy/generate.js';
import { isObject, type Json, type JsonObject } from '../../src/inject/json.js';
import { runBundle } from '../support/cli.js';
import { REPO_ROOT } from '../support/paths.js';
import { find, kustomize } from './render.js';

describe('generated files in deploy/', () => {
  // runs the bundled `lockstep inject` on every plain example, as deploy/generate.ts does
  const { files } = generate();

  it.each([...files.keys()])('%s equals what deploy/generate.ts writes (run `npm run deploy:generate`)', (path) => {
    expect(readFileSync(join(REPO_ROOT, path), 'utf8')).toBe(files.get(path));
  });

  it('covers every plain example and the component', () => {
    expect(examplePairs().length).toBe(4);
    expect([...files.keys()]).toEqual(
      expect.arrayContaining([
        'deploy/components/lockstep-group/kustomization.yaml',
        'deploy/components/lockstep-group/parts.yaml',
        ...examplePairs().map((p) => p.injected),
      ]),
    );
  });
});

/** The LWS's pod templates, with the engine choice normalised (the component leaves it to `lockstep run`). */
function normalised(objects: JsonObject[]): Json {
  const lws = structuredClone(find(objects, 'LeaderWorkerSet'));
  const text = JSON.stringify(lws).replace(/"--engine=[a-z]+"/g, '"--engine=auto"');
  return JSON.parse(text) as Json;
}

describe('deploy/components/lockstep-group', () => {
  it.each(['vllm-lws/llama-405b', 'sglang-lws/deepseek-r1'])('does to %s what lockstep inject does', (example) => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-component-'));
    cpSync(join(REPO_ROOT, `deploy/examples/${example}.plain.yaml`), join(dir, 'plain.yaml'));
    cpSync(join(REPO_ROOT, `deploy/examples/${example}.yaml`), join(dir, 'injected.yaml'));
    cpSync(join(REPO_ROOT, 'deploy/components/lockstep-group'), join(dir, 'component'), { recursive: true });
    writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [plain.yaml]\ncomponents: [component]\n');
    const viaComponent = normalised(kustomize(dir).objects);
    const injectedDir = join(dir, 'injected');
    cpSync(join(dir, 'injected.yaml'), join(injectedDir, 'injected.yaml'), { recursive: true });
    writeFileSync(join(injectedDir, 'kustomization.yaml'), 'resources: [injected.yaml]\n');
    const viaInject = normalised(kustomize(injectedDir).objects);
    expect(isObject(viaComponent)).toBe(true);
    expect(viaComponent).toEqual(viaInject);
  });

  it('turns startupPolicy LeaderReady into LeaderCreated, as lockstep inject does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-component-'));
    const plain = readFileSync(join(REPO_ROOT, 'deploy/examples/vllm-lws/llama-405b.plain.yaml'), 'utf8').replace(
      /^spec:\n/m,
      'spec:\n  startupPolicy: LeaderReady\n',
    );
    expect(plain).toContain('startupPolicy: LeaderReady');
    writeFileSync(join(dir, 'plain.yaml'), plain);
    cpSync(join(REPO_ROOT, 'deploy/components/lockstep-group'), join(dir, 'component'), { recursive: true });
    writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [plain.yaml]\ncomponents: [component]\n');
    const viaComponent = normalised(kustomize(dir).objects);
    const injected = runBundle('lockstep', ['inject', '-f', '-'], {}, plain);
    expect(injected.status).toBe(0);
    const injectedDir = join(dir, 'injected');
    mkdirSync(injectedDir);
    writeFileSync(join(injectedDir, 'injected.yaml'), injected.stdout);
    writeFileSync(join(injectedDir, 'kustomization.yaml'), 'resources: [injected.yaml]\n');
    const viaInject = normalised(kustomize(injectedDir).objects);
    expect((viaComponent as { spec: { startupPolicy?: string } }).spec.startupPolicy).toBe('LeaderCreated');
    expect(viaComponent).toEqual(viaInject);
  });
});
