/**
 * inject points the engine container's liveness/startup probes at `lockstep run`'s endpoint and carries the originals
 * (table-driven over the probe shapes users write), leaves what run cannot carry with a warning, keeps readiness, and
 * is idempotent.
 */
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseEngineCheck } from '../../leader/run/probe-proxy.js';
import type { JsonObject } from '../../src/inject/json.js';
import { injectText } from '../../src/inject/text.js';

const IMAGE = 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test';

function sts(container: JsonObject): string {
  return stringify({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      serviceName: 'web',
      template: {
        spec: {
          containers: [
            {
              name: 'main',
              image: 'vllm/vllm-openai:v0.11.0',
              command: ['vllm', 'serve', 'm'],
              ports: [{ name: 'http', containerPort: 8000 }],
              ...container,
            },
          ],
        },
      },
    },
  });
}

function mainOf(output: string): JsonObject {
  const doc = parse(output) as { spec: { template: { spec: { containers: JsonObject[] } } } };
  return doc.spec.template.spec.containers.find((c) => c.name === 'main')!;
}

const envOf = (main: JsonObject) =>
  Object.fromEntries((main.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));

describe('liveness and startup probes point at lockstep run', () => {
  it.each([
    [
      'httpGet on a named port',
      { livenessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5, failureThreshold: 3 } },
      { liveness: { kind: 'httpGet', path: '/health', port: 8000 } },
      undefined,
    ],
    [
      'tcpSocket with an initial delay (the start grace)',
      { livenessProbe: { tcpSocket: { port: 8000 }, initialDelaySeconds: 120, timeoutSeconds: 3 } },
      { liveness: { kind: 'tcpSocket', port: 8000, timeoutMs: 3000 } },
      '120s',
    ],
    [
      'exec, and a startup probe whose budget becomes the start grace',
      {
        livenessProbe: { exec: { command: ['sh', '-c', 'test -e $(HOME)/ok'] } },
        startupProbe: { httpGet: { path: '/health', port: 8000 }, periodSeconds: 10, failureThreshold: 90 },
      },
      {
        liveness: { kind: 'exec', command: ['sh', '-c', 'test -e $(HOME)/ok'] },
        startup: { kind: 'httpGet', path: '/health', port: 8000 },
      },
      '900s',
    ],
  ])('%s', (_what, probes, carried, grace) => {
    const { output, report } = injectText(sts(probes), { image: IMAGE });
    const main = mainOf(output);
    const env = envOf(main);
    expect(env.LOCKSTEP_PROBE_PORT).toBe('7471');
    expect(env.LOCKSTEP_PROBE_START_GRACE).toBe(grace);
    for (const [kind, want] of Object.entries(carried)) {
      const field = `${kind}Probe`;
      const original = (probes as Record<string, JsonObject>)[field]!;
      // the kubelet's probe asks run, with the original's timing and one second more to answer
      expect(main[field]).toEqual({
        httpGet: { path: kind === 'liveness' ? '/livez' : '/startupz', port: 7471 },
        ...Object.fromEntries(
          ['initialDelaySeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']
            .filter((k) => original[k] !== undefined)
            .map((k) => [k, original[k]]),
        ),
        timeoutSeconds: ((original.timeoutSeconds as number | undefined) ?? 1) + 1,
      });
      // what run reads back (after the kubelet's $$ → $ in env values) is the original handler
      const value = env[`LOCKSTEP_${kind.toUpperCase()}_PROBE`]!.replace(/\$\$/g, '$');
      expect(parseEngineCheck(value, 'x')).toMatchObject(want);
      expect(report.changes.join('\n')).toContain(`${field} asks lockstep run (port 7471`);
    }
    // readiness is not touched, and a second pass changes nothing
    const again = injectText(output, { image: IMAGE });
    expect(again.output).toBe(output);
  });

  it('readiness stays as written; a container without liveness/startup probes gets no probe endpoint', () => {
    const readiness = { httpGet: { path: '/health', port: 8000 }, periodSeconds: 5 };
    const main = mainOf(injectText(sts({ readinessProbe: readiness }), { image: IMAGE }).output);
    expect(main.readinessProbe).toEqual(readiness);
    expect(envOf(main).LOCKSTEP_PROBE_PORT).toBeUndefined();
  });

  it.each([
    ['a gRPC probe', { grpc: { port: 9090 } }, /livenessProbe left as written \(a gRPC probe/],
    ['a port name the container does not declare', { httpGet: { port: 'metrics' } }, /port "metrics" is not one of/],
  ])('%s is left as written, with a warning', (_what, probe, warning) => {
    const { output, report } = injectText(sts({ livenessProbe: probe }), { image: IMAGE });
    const main = mainOf(output);
    expect(main.livenessProbe).toEqual(probe);
    expect(envOf(main).LOCKSTEP_PROBE_PORT).toBeUndefined();
    expect(report.warnings).toEqual(expect.arrayContaining([expect.stringMatching(warning)]));
  });
});
