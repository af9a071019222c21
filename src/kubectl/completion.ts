/**
 * Shell completion for `kubectl lockstep`. kubectl (1.26+) runs `kubectl_complete-lockstep <args…> <word>` with the
 * arguments after the plugin name, the last one being the word under the cursor (maybe empty), and expects Cobra's
 * `__complete` answer: one candidate per line (`value<TAB>description`), then `:<directive>`.
 */
import { COMPLETION_FLAGS } from './global-flags.js';

const DIRECTIVE = { default: 0, error: 1, noSpace: 2, noFileComp: 4 } as const;

export interface Completion {
  candidates: { value: string; description?: string }[];
  directive: number;
}

/** Names only the cluster knows; each lookup may fail, and completion then offers nothing. */
export interface CompletionLookups {
  nodes(scope: CompletionScope): Promise<string[]>;
  groups(scope: CompletionScope): Promise<string[]>;
  namespaces(scope: CompletionScope): Promise<string[]>;
  contexts(scope: CompletionScope): string[];
}

export interface CompletionScope {
  namespace?: string;
  allNamespaces: boolean;
  context?: string;
  kubeconfig?: string;
}

export interface VerbInfo {
  name: string;
  description: string;
  /** what the positional argument names, if any */
  arg?: 'node' | 'group';
}

const OUTPUTS = ['table', 'wide', 'json', 'yaml', 'name', 'jsonpath=', 'custom-columns='];

function flagSpec(word: string) {
  const name = word.includes('=') ? word.slice(0, word.indexOf('=')) : word;
  return COMPLETION_FLAGS.find((f) => f.names.includes(name));
}

/** Reads the flags that change where names come from, from the words before the cursor. */
export function scopeOf(words: readonly string[]): CompletionScope {
  const scope: CompletionScope = { allNamespaces: false };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.indexOf('=');
    const name = eq >= 0 ? w.slice(0, eq) : w;
    const value = eq >= 0 ? w.slice(eq + 1) : words[i + 1];
    if (name === '-A' || name === '--all-namespaces') scope.allNamespaces = true;
    else if ((name === '-n' || name === '--namespace') && value !== undefined) scope.namespace = value;
    else if (name === '--context' && value !== undefined) scope.context = value;
    else if (name === '--kubeconfig' && value !== undefined) scope.kubeconfig = value;
  }
  return scope;
}

function matching(values: readonly string[], prefix: string, describe?: (v: string) => string | undefined) {
  return values
    .filter((v) => v.startsWith(prefix))
    .map((value) => {
      const description = describe?.(value);
      return description ? { value, description } : { value };
    });
}

async function safely(lookup: () => Promise<string[]> | string[]): Promise<string[]> {
  try {
    return await lookup();
  } catch {
    return [];
  }
}

export async function complete(
  args: readonly string[],
  verbs: readonly VerbInfo[],
  lookups: CompletionLookups,
): Promise<Completion> {
  const words = args.slice(0, -1);
  const current = args.at(-1) ?? '';
  const noFile = DIRECTIVE.noFileComp;
  const scope = scopeOf(words);
  const previous = words.at(-1);
  const prevFlag = previous?.startsWith('-') && !previous.includes('=') ? flagSpec(previous) : undefined;
  // the value of a flag: either `--flag value` (previous word) or `--flag=value` (this word)
  const inline = current.startsWith('-') && current.includes('=') ? flagSpec(current) : undefined;
  const valueFlag = inline ?? prevFlag;
  if (valueFlag?.value) {
    const prefix = inline ? current.slice(0, current.indexOf('=') + 1) : '';
    const typed = current.slice(prefix.length);
    const withPrefix = (c: Completion): Completion => ({
      ...c,
      candidates: c.candidates.map((x) => ({ ...x, value: prefix + x.value })),
    });
    switch (valueFlag.value) {
      case 'output':
        return withPrefix({ candidates: matching(OUTPUTS, typed), directive: noFile });
      case 'namespace':
        return withPrefix({
          candidates: matching(await safely(() => lookups.namespaces(scope)), typed),
          directive: noFile,
        });
      case 'context':
        return withPrefix({
          candidates: matching(await safely(() => lookups.contexts(scope)), typed),
          directive: noFile,
        });
      case 'file':
        return { candidates: [], directive: DIRECTIVE.default };
      case 'text':
        return { candidates: [], directive: noFile };
    }
  }
  if (current.startsWith('-')) {
    const all = COMPLETION_FLAGS.flatMap((f) =>
      f.names.filter((n) => n.startsWith('--')).map((n) => ({ n, d: f.description })),
    );
    return {
      candidates: all.filter((f) => f.n.startsWith(current)).map((f) => ({ value: f.n, description: f.d })),
      directive: noFile,
    };
  }
  // positional words: skip flags and their values
  const positional: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith('-')) {
      if (!w.includes('=') && flagSpec(w)?.value) i++;
      continue;
    }
    positional.push(w);
  }
  if (positional.length === 0) {
    const byName = new Map(verbs.map((v) => [v.name, v.description]));
    return { candidates: matching([...byName.keys()], current, (v) => byName.get(v)), directive: noFile };
  }
  const verb = verbs.find((v) => v.name === positional[0]);
  if (!verb?.arg || positional.length > 1) return { candidates: [], directive: noFile };
  const names = await safely(() => (verb.arg === 'node' ? lookups.nodes(scope) : lookups.groups(scope)));
  return { candidates: matching(names, current), directive: noFile };
}

export function formatCompletion(c: Completion): string {
  const lines = c.candidates.map((x) => (x.description ? `${x.value}\t${x.description}` : x.value));
  return `${[...lines, `:${c.directive}`].join('\n')}\n`;
}
