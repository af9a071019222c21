import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDriverTools, nvidiaSmiEnv } from '../../../agent/discovery/driver-root.js';
import { runNvidiaSmi } from '../../../agent/discovery/nvidia-smi.js';

/**
 * Driver roots in the shapes real nodes have: the GPU Operator's driver container (`/run/nvidia/driver`, with
 * usr/bin/nvidia-smi and usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 as Ubuntu packages install them), a RHEL-style
 * host (usr/lib64), an empty directory (the operator not installed yet), and traps.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driver-root-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function layout(name: string, files: Record<string, string | 'dir'>, mode = 0o755): Promise<string> {
  const root = join(dir, name);
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    if (content === 'dir') {
      await mkdir(full, { recursive: true });
      continue;
    }
    await mkdir(join(full, '..'), { recursive: true });
    await writeFile(full, content);
    await chmod(full, path.endsWith('nvidia-smi') ? mode : 0o644);
  }
  await mkdir(root, { recursive: true });
  return root;
}

/** Fails as the real binary does when the dynamic linker cannot find NVML (exit 127, ld.so's message). */
const NEEDS_NVML = (libDir: string) => `#!/bin/sh
case ":$LD_LIBRARY_PATH:" in
  *":${libDir}:"*) echo '<?xml version="1.0" ?><nvidia_smi_log><attached_gpus>0</attached_gpus></nvidia_smi_log>' ;;
  *) echo "nvidia-smi: error while loading shared libraries: libnvidia-ml.so.1: cannot open shared object file: No such file or directory" >&2; exit 127 ;;
esac
`;

describe('findDriverTools', () => {
  it('the GPU Operator’s driver container: nvidia-smi in usr/bin, NVML in the multiarch dir', async () => {
    const root = await layout('operator', {
      'usr/bin/nvidia-smi': NEEDS_NVML('x'),
      'usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1': '',
    });
    expect(await findDriverTools(root)).toEqual({
      nvidiaSmi: join(root, 'usr/bin/nvidia-smi'),
      libraryDir: join(root, 'usr/lib/x86_64-linux-gnu'),
      found: true,
    });
  });

  it('a RHEL-style host: NVML in usr/lib64', async () => {
    const root = await layout('rhel', { 'usr/bin/nvidia-smi': '#!/bin/sh\n', 'usr/lib64/libnvidia-ml.so.1': '' });
    expect((await findDriverTools(root)).libraryDir).toBe(join(root, 'usr/lib64'));
  });

  it('an empty root: a problem that says what is missing and what it costs', async () => {
    const root = await layout('empty', {});
    const tools = await findDriverTools(root);
    expect(tools.found).toBe(false);
    expect(tools.problem).toMatch(/^no nvidia-smi under the driver root .*empty .*GPUs are found by PCI id only/);
    expect(tools.nvidiaSmi).toBe(join(root, 'usr/bin/nvidia-smi'));
  });

  it('a root that does not exist is the same problem, not a crash', async () => {
    const tools = await findDriverTools(join(dir, 'no-such-root'));
    expect(tools.found).toBe(false);
    expect(tools.problem).toContain('no nvidia-smi under the driver root');
  });

  it('skips an nvidia-smi that is a directory or not executable, and takes the next place', async () => {
    const root = await layout('traps', {
      'usr/bin/nvidia-smi': 'dir',
      'bin/nvidia-smi': '#!/bin/sh\n',
      'usr/local/nvidia/bin/nvidia-smi': '#!/bin/sh\n',
      'usr/local/nvidia/lib64/libnvidia-ml.so.1': '',
    });
    await chmod(join(root, 'bin/nvidia-smi'), 0o644);
    expect(await findDriverTools(root)).toEqual({
      nvidiaSmi: join(root, 'usr/local/nvidia/bin/nvidia-smi'),
      libraryDir: join(root, 'usr/local/nvidia/lib64'),
      found: true,
    });
  });

  it('the host root `/` without nvidia-smi falls back to PATH', async () => {
    const tools = await findDriverTools('/');
    if (tools.found) return; // a machine with the driver installed: nothing to fall back from
    expect(tools.nvidiaSmi).toBe('nvidia-smi');
  });
});

describe('running nvidia-smi from a driver root', () => {
  it('puts the root’s library dir first on LD_LIBRARY_PATH, so the host binary links', async () => {
    const libDir = join(dir, 'linking/usr/lib/x86_64-linux-gnu');
    const root = await layout('linking', {
      'usr/bin/nvidia-smi': NEEDS_NVML(libDir),
      'usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1': '',
    });
    const tools = await findDriverTools(root);
    const without = await runNvidiaSmi(tools.nvidiaSmi, 5000);
    expect(without).toMatchObject({ ok: false, missing: false });
    expect(without.ok ? '' : without.error).toContain('libnvidia-ml.so.1: cannot open shared object file');
    expect(await runNvidiaSmi(tools.nvidiaSmi, 5000, tools.libraryDir)).toMatchObject({ ok: true });
  });

  it('keeps the library path the container already had, after the root’s', () => {
    expect(nvidiaSmiEnv('/d/lib', { LD_LIBRARY_PATH: '/opt/x' }).LD_LIBRARY_PATH).toBe('/d/lib:/opt/x');
    expect(nvidiaSmiEnv('/d/lib', {}).LD_LIBRARY_PATH).toBe('/d/lib');
    const env = { PATH: '/bin' };
    expect(nvidiaSmiEnv(undefined, env)).toBe(env);
  });
});
