// Generates the TypeScript types of src/proto/*.proto into src/proto/generated/ (or the folder given as the first
// argument: the check in test/proto/generated.test.ts generates into a temporary one and compares). buf compiles the
// .proto files (no protoc needed: @bufbuild/buf ships the binary) and ts-proto writes the types. Only types: at run
// time @grpc/proto-loader loads the same .proto files, so the options below describe what proto-loader hands over
// (64-bit integers as numbers, enums as their names, maps as plain objects, absent `optional` fields left out).
// The group protocol is read with camelCase field names (proto-loader keepCase: false); the kubelet's protos keep the
// wire's snake_case (keepCase: true), as the kubelet's own Go structs and JSON name them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'src', 'proto', 'generated'));
const COMMON = [
  'onlyTypes=true',
  'outputServices=false',
  'forceLong=number',
  'stringEnums=true',
  'enumsAsLiterals=true',
  'useOptionals=none',
  'useMapType=false',
  'oneof=properties',
  'esModuleInterop=true',
  'importSuffix=.js',
];
const SETS = [
  { files: ['group.proto'], options: ['snakeToCamel=true'] },
  {
    files: readdirSync(join(root, 'src', 'proto')).filter((f) => f.endsWith('.proto') && f !== 'group.proto'),
    options: ['snakeToCamel=false'],
  },
];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const buf = join(root, 'node_modules', '.bin', 'buf');
for (const set of SETS) {
  const template = {
    version: 'v2',
    plugins: [
      {
        local: join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto'),
        out,
        opt: [...COMMON, ...set.options],
      },
    ],
  };
  const paths = set.files.flatMap((f) => ['--path', join('src', 'proto', f)]);
  execFileSync(buf, ['generate', '--template', JSON.stringify(template), ...paths], { cwd: root, stdio: 'inherit' });
}
