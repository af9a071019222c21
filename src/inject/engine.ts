/** Engines `lockstep run` knows how to wire (a subset of its --engine choices: the ones inject can recognise). */
export type DetectedEngine = 'vllm' | 'sglang' | 'torchrun' | 'ray' | 'jax';

/**
 * Signatures of each engine's documented entry points (FACTS.md §8), tried in order on the whole command line, shell
 * scripts included. Ray comes first: the LWS vLLM-on-Ray convention starts `ray` on every pod and `vllm serve` on top
 * of it on the leader only, so the group's processes are Ray's.
 */
const SIGNATURES: readonly { engine: DetectedEngine; pattern: RegExp }[] = [
  { engine: 'ray', pattern: /(^|[\s;&|(/])ray\s+start\b|multi-node-serving\.sh/ },
  { engine: 'vllm', pattern: /(^|[\s;&|(/])vllm\s+serve\b|\bvllm\.entrypoints\./ },
  { engine: 'sglang', pattern: /\bsglang\.launch_server\b/ },
  { engine: 'torchrun', pattern: /(^|[\s;&|(/])torchrun\b|\btorch\.distributed\.(run|launch)\b/ },
  { engine: 'jax', pattern: /\bimport\s+jax\b|\bfrom\s+jax\b|\bjax\.distributed\.initialize\b|\bmaxtext\b/i },
];

/** The engine a container's command line runs, or undefined when none is recognised. */
export function detectEngine(argv: readonly string[]): DetectedEngine | undefined {
  const line = argv.join(' ');
  return SIGNATURES.find((s) => s.pattern.test(line))?.engine;
}

/**
 * Splits a `--command` value into words the way a shell would for simple cases: whitespace separates words, single
 * and double quotes group them, backslash escapes the next character outside single quotes.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} quote in "${text}"`);
  if (inWord) words.push(current);
  return words;
}
