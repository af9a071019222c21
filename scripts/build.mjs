// Bundles each entry point into one ESM file in dist/ so containers start fast (no module resolution at start-up).
import { chmod, copyFile, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const dist = join(root, 'dist');

export const ENTRY_POINTS = {
  lockstep: 'src/cli/lockstep.ts',
  'kubectl-lockstep': 'src/cli/kubectl-lockstep.ts',
  'kubectl_complete-lockstep': 'src/cli/kubectl-complete-lockstep.ts',
};

await mkdir(join(dist, 'proto'), { recursive: true });
const result = await build({
  entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([k, v]) => [k, join(root, v)])),
  outdir: dist,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  write: false,
  logLevel: 'warning',
  define: { __LOCKSTEP_VERSION__: JSON.stringify(pkg.version) },
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __lockstepCreateRequire } from 'node:module'; const require = __lockstepCreateRequire(import.meta.url);",
  },
});

// Write each file to a temporary name, then rename: a test running the old bundle never sees half a file.
for (const file of result.outputFiles) {
  const tmp = `${file.path}.${process.pid}.tmp`;
  await writeFile(tmp, file.contents);
  await rename(tmp, file.path);
  if (file.path.endsWith('.mjs')) await chmod(file.path, 0o755);
}

// .proto files travel beside the bundle; src/proto/index.ts finds them in either place.
for (const name of await readdir(join(root, 'src/proto'))) {
  if (name.endsWith('.proto')) await copyFile(join(root, 'src/proto', name), join(dist, 'proto', name));
}
