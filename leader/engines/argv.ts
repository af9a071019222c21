/** Reading and adding flags in a command line the way argparse-style engines parse them. Pure. */

/** The value of the first of `names` found (`--x v`, `--x=v`, `-x v`), or undefined. */
export function flagValue(argv: readonly string[], names: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    for (const name of names) {
      if (arg === name && i + 1 < argv.length) return argv[i + 1];
      if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
    }
  }
  return undefined;
}

export function hasFlag(argv: readonly string[], names: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') break;
    if (names.some((n) => arg === n || arg.startsWith(`${n}=`))) return true;
  }
  return false;
}

/** `--node-rank` → [`--node-rank`, `--node_rank`]: engines accept either spelling in different versions. */
export function spellings(flag: string): string[] {
  const dash = flag.replace(/_/g, '-');
  const under = `--${dash.slice(2).replace(/-/g, '_')}`;
  return dash === under ? [dash] : [dash, under];
}

export function basename(path: string | undefined): string {
  if (!path) return '';
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

/** `python3 -m mod …` → the module name; undefined when argv is not a `-m` call. */
export function pythonModule(argv: readonly string[]): string | undefined {
  if (!/^python(\d+(\.\d+)?)?$/.test(basename(argv[0]))) return undefined;
  const i = argv.indexOf('-m');
  return i > 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
}
