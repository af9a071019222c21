/**
 * `$(VAR)` references in the command's arguments, expanded the way the kubelet expands a container's command and
 * args: `$(NAME)` becomes the variable's value when it is defined and stays as written when it is not, `$$` is a
 * literal `$` (so `$$(NAME)` yields `$(NAME)`), a `$` before anything else stays, and an unclosed `$(` stays as is.
 */
export function expandReferences(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1]!;
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        // unclosed: keep "$(" and go on scanning after it
        out += '$(';
        i += 2;
      } else {
        const name = input.slice(i + 2, close);
        const value = lookup(name);
        out += value ?? `$(${name})`;
        i = close + 1;
      }
    } else {
      out += `$${next}`;
      i += 2;
    }
  }
  return out;
}

export function expandArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  return argv.map((arg) => expandReferences(arg, (name) => env[name]));
}
