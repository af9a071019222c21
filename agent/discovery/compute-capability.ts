/**
 * CUDA compute capability. `nvidia-smi -q -x` has no such field (only the CSV query has `compute_cap`, and discovery
 * calls nvidia-smi once), so it is derived from `product_architecture` and, where one architecture spans two
 * capabilities, the product name. Source: NVIDIA's CUDA GPU list (developer.nvidia.com/cuda-gpus).
 */
export function computeCapability(architecture: string | undefined, productName: string | undefined): string | undefined {
  const arch = architecture?.toLowerCase();
  const name = productName?.toLowerCase() ?? '';
  switch (arch) {
    case 'kepler':
      return /k80/.test(name) ? '3.7' : '3.5';
    case 'maxwell':
      return '5.2';
    case 'pascal':
      return /p100/.test(name) ? '6.0' : '6.1';
    case 'volta':
      return '7.0';
    case 'turing':
      return '7.5';
    case 'ampere':
      return /\b(a100|a30|a800)\b/.test(name) ? '8.0' : '8.6';
    case 'ada lovelace':
    case 'ada':
      return '8.9';
    case 'hopper':
      return '9.0';
    case 'blackwell':
      if (/\b(b300|gb300)\b/.test(name)) return '10.3';
      if (/\b(b100|b200|gb200)\b/.test(name)) return '10.0';
      return '12.0';
    default:
      return undefined;
  }
}
