import { access, constants, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * `--driver-root`: where the host's NVIDIA driver userspace lives, seen from inside the agent's container. The image
 * carries no NVIDIA userspace, so the DaemonSet mounts the host's driver root read-only and the agent runs the host's
 * own `nvidia-smi` with the host's `libnvidia-ml.so.1` on its library path. NVIDIA's DRA driver calls the same setting
 * `nvidiaDriverRoot`: `/` for a driver installed on the host, `/run/nvidia/driver` when the GPU Operator's driver
 * container installs it.
 *
 * The places searched are those distributions and the driver's own installer use: `usr/bin` (Debian, Ubuntu, RHEL
 * packages, the .run installer and the GPU Operator's driver container), `usr/local/nvidia/bin` (cloud images that
 * mount the driver there), and for the library the multiarch and lib64 directories.
 *
 * Threats: a root that does not exist or holds no driver (a typo, the GPU Operator not installed yet): one problem
 * line, the metric at 0, and discovery goes on by PCI id alone; a `nvidia-smi` that is a directory or not executable
 * is not taken; the root is never written to.
 */

const NVIDIA_SMI_DIRS = ['usr/bin', 'bin', 'usr/sbin', 'usr/local/bin', 'usr/local/nvidia/bin'] as const;
const NVML_LIBRARY_DIRS = [
  'usr/lib/x86_64-linux-gnu',
  'usr/lib/aarch64-linux-gnu',
  'usr/lib64',
  'lib64',
  'usr/lib',
  'lib/x86_64-linux-gnu',
  'lib/aarch64-linux-gnu',
  'usr/local/nvidia/lib64',
] as const;

export interface DriverTools {
  /** the nvidia-smi to run: found under the root, or the bare name (PATH) for root `/` when none was found */
  nvidiaSmi: string;
  /** the directory holding libnvidia-ml.so.1, put first on nvidia-smi's LD_LIBRARY_PATH */
  libraryDir?: string;
  /** whether nvidia-smi was found under the root */
  found: boolean;
  /** what is missing, in words, when something is */
  problem?: string;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Finds nvidia-smi and libnvidia-ml.so.1 under `root`. */
export async function findDriverTools(root: string): Promise<DriverTools> {
  let nvidiaSmi: string | undefined;
  for (const dir of NVIDIA_SMI_DIRS) {
    const candidate = join(root, dir, 'nvidia-smi');
    if (await isExecutableFile(candidate)) {
      nvidiaSmi = candidate;
      break;
    }
  }
  let libraryDir: string | undefined;
  for (const dir of NVML_LIBRARY_DIRS) {
    if (await isFile(join(root, dir, 'libnvidia-ml.so.1'))) {
      libraryDir = join(root, dir);
      break;
    }
  }
  if (!nvidiaSmi) {
    return {
      // on the host's own root the container's PATH may still have one (an image built with the userspace)
      nvidiaSmi: root === '/' ? 'nvidia-smi' : join(root, 'usr/bin/nvidia-smi'),
      ...(libraryDir ? { libraryDir } : {}),
      found: false,
      problem: `no nvidia-smi under the driver root ${root} (looked in ${NVIDIA_SMI_DIRS.join(', ')}): GPUs are found by PCI id only and their nvidia-smi health checks do not run`,
    };
  }
  return {
    nvidiaSmi,
    ...(libraryDir ? { libraryDir } : {}),
    found: true,
    ...(libraryDir ? {} : { problem: `no libnvidia-ml.so.1 under the driver root ${root}: nvidia-smi may not start` }),
  };
}

/** nvidia-smi's environment: the driver root's library directory first on LD_LIBRARY_PATH. */
export function nvidiaSmiEnv(libraryDir: string | undefined, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (!libraryDir) return env;
  const existing = env.LD_LIBRARY_PATH;
  return { ...env, LD_LIBRARY_PATH: existing ? `${libraryDir}:${existing}` : libraryDir };
}
