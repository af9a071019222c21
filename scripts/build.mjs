// Bundles each entry point into one ESM file in dist/ so containers start fast (no module resolution at start-up).
import { chmod, copyFile, mkdir, readdir, readFile, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildInputsHash, INPUTS_HASH_FILE } from './build-inputs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const dist = join(root, 'dist');
// taken before bundling: a source changed during the build leaves the recorded hash behind, so the next check rebuilds
const inputsHash = buildInputsHash(root);

export const ENTRY_POINTS = {
  lockstep: 'src/cli/lockstep.ts',
  'kubectl-lockstep': 'src/cli/kubectl-lockstep.ts',
  'kubectl_complete-lockstep': 'src/cli/kubectl-complete-lockstep.ts',
};

// grpc-health-check reads its .proto from `${__dirname}/../../proto` when first evaluated, and an ESM bundle has no
// __dirname: give that one module a __dirname two levels below dist/, so it finds dist/proto/health/v1/health.proto
// (copied below). The path is only joined, never opened, so those directories need not exist.
const grpcHealthCheckDirname = {
  name: 'grpc-health-check-dirname',
  setup(b) {
    b.onLoad({ filter: /grpc-health-check[\\/]build[\\/]src[\\/]health\.js$/ }, async (args) => ({
      contents: `var __dirname = require('node:path').join(require.resolve('./proto/health/v1/health.proto'), '../../../../grpc-health-check/src');\n${await readFile(args.path, 'utf8')}`,
      loader: 'js',
    }));
  },
};

await mkdir(join(dist, 'proto'), { recursive: true });
await mkdir(join(dist, 'plugin'), { recursive: true });
// `lockstep` is split: its dynamic import()s become chunks beside it, so a command loads only what it uses
// (`lockstep bootstrap` must start in ≤ 200 ms, DESIGN.md budgets, and never parses client-node). Same directory, so
// protoPath() holds. The kubectl programs stay single files (one file to install as a kubectl plugin).
const SPLIT = new Set(['lockstep']);
// The kubectl programs live in dist/plugin/: kubectl treats every `kubectl-*` file on PATH as a plugin, so with dist/
// on PATH a `kubectl-lockstep.mjs.map` there would be reported as a broken plugin. dist/ holds only the two
// extension-less links kubectl runs (made below).
export const PLUGIN_DIR = 'plugin';
const bundle = (names, split) =>
  build({
    entryPoints: Object.fromEntries(names.map((k) => [k, join(root, ENTRY_POINTS[k])])),
    splitting: split,
    chunkNames: 'chunk-[hash]',
    outdir: split ? dist : join(dist, PLUGIN_DIR),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: 'linked',
    // code is ASCII-only (non-ASCII in strings, regexps and names becomes escapes); see latin1Comments below
    charset: 'ascii',
    write: false,
    logLevel: 'warning',
    define: { __LOCKSTEP_VERSION__: JSON.stringify(pkg.version) },
    plugins: [grpcHealthCheckDirname],
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as __lockstepCreateRequire } from 'node:module'; const require = __lockstepCreateRequire(import.meta.url);",
    },
  });
const names = Object.keys(ENTRY_POINTS);
const results = await Promise.all([
  bundle(
    names.filter((n) => SPLIT.has(n)),
    true,
  ),
  bundle(
    names.filter((n) => !SPLIT.has(n)),
    false,
  ),
]);
const result = { outputFiles: results.flatMap((r) => r.outputFiles) };

// V8 keeps each loaded module's source text in its heap, at one byte per character only while every character is
// Latin-1. esbuild escapes non-ASCII code (charset above) but copies comments as they are, and one ’ in undici's
// comments made the 2.8 MB client-node chunk cost 5.6 MB of the agent's heap (and the kubectl bundles 7 MB). What is
// left above U+00FF can only be in comments: replace it with '?' per UTF-16 unit, so source-map columns still hold.
const latin1Comments = (text) => text.replace(/[\u{100}-\u{10ffff}]/gu, (c) => '?'.repeat(c.length));
const contentsOf = (file) =>
  file.path.endsWith('.mjs') && /[\u{100}-\u{10ffff}]/u.test(file.text) ? latin1Comments(file.text) : file.contents;

// Write each file to a temporary name, then rename: a test running the old bundle never sees half a file.
// Chunks first: an entry written before the chunks it imports could be started in between.
const isEntry = (path) => Object.keys(ENTRY_POINTS).some((name) => path.endsWith(`/${name}.mjs`));
for (const file of [...result.outputFiles].sort((a, b) => Number(isEntry(a.path)) - Number(isEntry(b.path)))) {
  const tmp = `${file.path}.${process.pid}.tmp`;
  await writeFile(tmp, contentsOf(file));
  await rename(tmp, file.path);
  if (file.path.endsWith('.mjs')) await chmod(file.path, 0o755);
}

// `kubectl lockstep` with PATH=dist:$PATH: extension-less names kubectl finds, linked to the bundles (Node follows the
// link, so the bundle still loads as ESM). Old builds left the bundles in dist/ itself: remove them, or kubectl
// would list them as plugins.
for (const name of ['kubectl-lockstep', 'kubectl_complete-lockstep']) {
  const link = join(dist, name);
  const tmp = `${link}.${process.pid}.tmp`;
  await unlink(tmp).catch(() => {});
  await symlink(join(PLUGIN_DIR, `${name}.mjs`), tmp);
  await rename(tmp, link);
  for (const stale of [`${name}.mjs`, `${name}.mjs.map`]) await unlink(join(dist, stale)).catch(() => {});
}

// .proto files travel beside the bundle; src/proto/index.ts finds them in either place.
for (const name of await readdir(join(root, 'src/proto'))) {
  if (name.endsWith('.proto')) await copyFile(join(root, 'src/proto', name), join(dist, 'proto', name));
}
await mkdir(join(dist, 'proto/health/v1'), { recursive: true });
await copyFile(
  join(root, 'node_modules/grpc-health-check/proto/health/v1/health.proto'),
  join(dist, 'proto/health/v1/health.proto'),
);

// Chunk names carry a content hash, so every changed build leaves the previous chunks behind. Remove those this build
// did not write once they are a few minutes old (a process started from the previous build may still be loading them).
const written = new Set(result.outputFiles.map((f) => f.path));
for (const name of await readdir(dist)) {
  const path = join(dist, name);
  if (!/^chunk-.*\.mjs(\.map)?$/.test(name) || written.has(path)) continue;
  const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: Date.now() }));
  if (Date.now() - mtimeMs > 5 * 60_000) await unlink(path).catch(() => {});
}

// Last: dist/ counts as built from these inputs only once everything above is in place (test/support/build.ts).
const hashTmp = join(dist, `${INPUTS_HASH_FILE}.${process.pid}.tmp`);
await writeFile(hashTmp, `${inputsHash}\n`);
await rename(hashTmp, join(dist, INPUTS_HASH_FILE));
