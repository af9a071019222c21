import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * What a container runtime's CDI loader checks (cncf-tags/container-device-interface SPEC.md and its Go loader,
 * FACTS.md §5), written down so tests and the emulator's "container start" judge the agent's spec files the way
 * containerd would: known cdiVersion not older than the features used, `kind` = `<vendor DNS name>/<class>`,
 * valid and unique device names, no unknown fields, env `K=V`, absolute paths. Plus the kubelet's own rule: no dots
 * in the class of a CDI id. Returns a list of problems (empty = valid).
 */
const KNOWN_CDI_VERSIONS = ['0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0'];

const SPEC_FIELDS = new Set(['cdiVersion', 'kind', 'devices', 'containerEdits', 'annotations']);
const DEVICE_FIELDS = new Set(['name', 'containerEdits', 'annotations']);
const EDIT_FIELDS = new Set(['env', 'deviceNodes', 'hooks', 'mounts', 'intelRdt', 'additionalGids']);
const NODE_FIELDS = new Set(['path', 'hostPath', 'type', 'major', 'minor', 'fileMode', 'permissions', 'uid', 'gid']);
const MOUNT_FIELDS = new Set(['hostPath', 'containerPath', 'options', 'type']);
const HOOK_FIELDS = new Set(['hookName', 'path', 'args', 'env', 'timeout']);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownFields(where: string, value: Json, allowed: Set<string>, problems: string[]): void {
  for (const key of Object.keys(value)) if (!allowed.has(key)) problems.push(`${where}: unknown field "${key}"`);
}

function validateVendor(vendor: string): string | undefined {
  if (vendor.length > 253) return `vendor ${vendor} is longer than 253 characters`;
  const labels = vendor.split('.');
  if (labels.length < 2) return `vendor ${vendor} is not a DNS domain name`;
  for (const label of labels)
    if (!DNS_LABEL.test(label) || label.length > 63) return `vendor ${vendor}: bad label "${label}"`;
  return undefined;
}

/** `<vendor>/<class>=<name>` → parts, or a problem. The class may not contain dots (the kubelet rejects them). */
export function parseCdiId(id: string): { vendor: string; class: string; name: string } | string {
  const match = /^([^/=]+)\/([^/=]+)=([^/=]+)$/.exec(id);
  if (!match) return `CDI id ${id} is not <vendor>/<class>=<name>`;
  const [, vendor = '', cls = '', name = ''] = match;
  const vendorProblem = validateVendor(vendor);
  if (vendorProblem) return vendorProblem;
  if (cls.includes('.')) return `CDI id ${id}: the class ${cls} contains a dot, which the kubelet rejects`;
  if (!NAME.test(cls) || cls.length > 63) return `CDI id ${id}: bad class ${cls}`;
  if (!NAME.test(name)) return `CDI id ${id}: bad device name ${name}`;
  return { vendor, class: cls, name };
}

function checkEdits(where: string, edits: unknown, problems: string[], features: Set<string>): void {
  if (edits === undefined) return;
  if (!isObject(edits)) {
    problems.push(`${where}: containerEdits is not an object`);
    return;
  }
  unknownFields(where, edits, EDIT_FIELDS, problems);
  if (edits.intelRdt !== undefined || edits.additionalGids !== undefined) features.add('0.7.0');
  if (edits.env !== undefined) {
    if (!Array.isArray(edits.env)) problems.push(`${where}: env is not a list`);
    else
      for (const entry of edits.env) {
        if (typeof entry !== 'string' || !/^[^=]+=/.test(entry))
          problems.push(`${where}: env entry ${JSON.stringify(entry)} is not K=V`);
      }
  }
  if (edits.deviceNodes !== undefined) {
    if (!Array.isArray(edits.deviceNodes)) problems.push(`${where}: deviceNodes is not a list`);
    else
      for (const node of edits.deviceNodes) {
        if (!isObject(node)) {
          problems.push(`${where}: device node is not an object`);
          continue;
        }
        unknownFields(`${where} deviceNode`, node, NODE_FIELDS, problems);
        if (typeof node.path !== 'string' || !node.path.startsWith('/'))
          problems.push(`${where}: device node path must be absolute`);
        if (node.hostPath !== undefined) {
          features.add('0.5.0');
          if (typeof node.hostPath !== 'string' || !node.hostPath.startsWith('/'))
            problems.push(`${where}: hostPath must be absolute`);
        }
      }
  }
  if (edits.mounts !== undefined) {
    if (!Array.isArray(edits.mounts)) problems.push(`${where}: mounts is not a list`);
    else
      for (const mount of edits.mounts) {
        if (!isObject(mount)) continue;
        unknownFields(`${where} mount`, mount, MOUNT_FIELDS, problems);
        if (mount.type !== undefined) features.add('0.4.0');
        if (typeof mount.hostPath !== 'string' || typeof mount.containerPath !== 'string')
          problems.push(`${where}: mount needs hostPath and containerPath`);
      }
  }
  if (edits.hooks !== undefined) {
    if (!Array.isArray(edits.hooks)) problems.push(`${where}: hooks is not a list`);
    else
      for (const hook of edits.hooks) {
        if (!isObject(hook)) continue;
        unknownFields(`${where} hook`, hook, HOOK_FIELDS, problems);
        if (typeof hook.path !== 'string' || !hook.path.startsWith('/'))
          problems.push(`${where}: hook path must be absolute`);
      }
  }
}

export function validateCdiSpec(spec: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(spec)) return ['spec is not an object'];
  unknownFields('spec', spec, SPEC_FIELDS, problems);
  const version = spec.cdiVersion;
  if (typeof version !== 'string' || !KNOWN_CDI_VERSIONS.includes(version))
    problems.push(`unknown cdiVersion ${String(version)}`);
  const features = new Set<string>();
  if (spec.annotations !== undefined) features.add('0.6.0');
  const kind = typeof spec.kind === 'string' ? spec.kind : '';
  const slash = kind.indexOf('/');
  if (slash <= 0 || kind.indexOf('/', slash + 1) !== -1)
    problems.push(`kind ${JSON.stringify(spec.kind)} is not <vendor>/<class>`);
  else {
    const vendorProblem = validateVendor(kind.slice(0, slash));
    if (vendorProblem) problems.push(vendorProblem);
    const cls = kind.slice(slash + 1);
    if (!NAME.test(cls) || cls.length > 63) problems.push(`class ${cls} is not a valid name`);
    if (cls.includes('.')) features.add('0.6.0');
  }
  if (!Array.isArray(spec.devices) || spec.devices.length === 0) problems.push('spec has no devices');
  const names = new Set<string>();
  for (const device of Array.isArray(spec.devices) ? spec.devices : []) {
    if (!isObject(device)) {
      problems.push('device is not an object');
      continue;
    }
    unknownFields('device', device, DEVICE_FIELDS, problems);
    if (device.annotations !== undefined) features.add('0.6.0');
    const name = typeof device.name === 'string' ? device.name : '';
    if (!NAME.test(name)) problems.push(`device name ${JSON.stringify(device.name)} is invalid`);
    else if (!/^[A-Za-z]/.test(name)) features.add('0.5.0');
    if (names.has(name)) problems.push(`device name ${name} appears twice`);
    names.add(name);
    if (!isObject(device.containerEdits)) problems.push(`device ${name}: containerEdits missing`);
    checkEdits(`device ${name}`, device.containerEdits, problems, features);
  }
  checkEdits('spec', spec.containerEdits, problems, features);
  if (typeof version === 'string' && KNOWN_CDI_VERSIONS.includes(version)) {
    for (const needed of features) {
      if (compareVersions(version, needed) < 0)
        problems.push(`spec uses ${needed} features but declares cdiVersion ${version}`);
    }
  }
  return problems;
}

export interface CdiRegistryDevice {
  id: string;
  file: string;
  spec: Json;
  device: Json;
}

/**
 * Loads every spec file (.json/.yaml) of the given directories, later directories winning (the runtime's order:
 * /etc/cdi, then /var/run/cdi), and resolves fully-qualified ids like a runtime does at container creation.
 */
export async function loadCdiRegistry(
  dirs: string[],
): Promise<{ devices: Map<string, CdiRegistryDevice>; problems: string[] }> {
  const devices = new Map<string, CdiRegistryDevice>();
  const problems: string[] = [];
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (!/\.(json|ya?ml)$/.test(name) || name.startsWith('.')) continue;
      const file = join(dir, name);
      let spec: unknown;
      try {
        const text = await readFile(file, 'utf8');
        spec = name.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
      } catch (error) {
        problems.push(`${file}: ${String(error)}`);
        continue;
      }
      const specProblems = validateCdiSpec(spec);
      if (specProblems.length > 0 || !isObject(spec)) {
        problems.push(...specProblems.map((problem) => `${file}: ${problem}`));
        continue;
      }
      for (const device of spec.devices as Json[]) {
        const id = `${spec.kind as string}=${device.name as string}`;
        devices.set(id, { id, file, spec, device });
      }
    }
  }
  return { devices, problems };
}
