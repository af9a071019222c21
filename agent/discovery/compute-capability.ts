/**
 * CUDA compute capability. `nvidia-smi -q -x` has no such field (only the CSV query has `compute_cap`, and discovery
 * calls nvidia-smi once), so it is derived from `product_architecture` and, where one architecture spans two
 * capabilities, the product name. Source: NVIDIA's CUDA GPU list (developer.nvidia.com/cuda-gpus).
 */
export function computeCapability(
  architecture: string | undefined,
  productName: string | undefined,
): string | undefined {
  const name = productName?.toLowerCase() ?? '';
  // drivers before ~470 have no <product_architecture>: fall back to the product name
  const arch = architecture?.toLowerCase() ?? architectureFromName(name);
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

function architectureFromName(name: string): string | undefined {
  if (/\bv100/.test(name) || /titan v\b/.test(name)) return 'volta';
  if (/\b(t4|t10|rtx 20\d0|quadro rtx|titan rtx)\b/.test(name)) return 'turing';
  if (/\b(p100|p4|p40|p6|quadro p\d+|gtx 10\d0|titan x(p)?)\b/.test(name)) return 'pascal';
  if (/\b(k80|k40|k20)\b/.test(name)) return 'kepler';
  if (/\b(m40|m60|m10|quadro m\d+)\b/.test(name)) return 'maxwell';
  return undefined;
}
