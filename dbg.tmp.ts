import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from './test/cluster/apiserver/index.js';
import { buildSimulatedNode } from './test/cluster/nodes/index.js';
const api = await startApiServer({ featureGates: { DRADeviceTaints: true } });
const node = await buildSimulatedNode('h100-hgx', await mkdtemp(join(tmpdir(), 'n-')), { nodeName: 'gpu-node-1' });
const st = await mkdtemp(join(tmpdir(), 's-'));
api.store.subscribe('resourceslices', (t, o: any) => console.log(Date.now() % 100000, 'EVENT', t, o.spec.pool.generation, o.spec.devices.filter((d: any) => d.taints || !d.attributes.healthy.bool).map((d: any) => d.name + ':' + JSON.stringify(d.taints))));
async function run(ms: number) {
const t0 = Date.now();
const child = spawn(process.execPath, ['dist/lockstep.mjs', 'agent', '--kubeconfig', api.kubeconfigPath, '--node-name', 'gpu-node-1', '--sysfs-root', node.sysfsRoot, '--dev-root', node.devRoot, '--nvidia-smi', node.nvidiaSmiPath, '--kmsg', node.kmsgPath, '--state-dir', st, '--plugin-registry-dir', join(st, 'r'), '--plugin-dir', join(st, 'p'), '--cdi-dir', join(st, 'c'), '--http-address', '127.0.0.1:0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] });
child.stdout.on('data', (c) => process.stdout.write(c.toString().split('\n').filter((l: string) => /slices|health/.test(l)).map((l: string) => l.slice(0, 400)+'\n').join('')));
setTimeout(() => { child.kill('SIGTERM'); }, ms);
await new Promise((r) => child.on('exit', r));
console.log('---- exit');
}
await run(4000); await run(4000);
await api.stop();
