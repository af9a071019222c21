// Generates the TypeScript types of src/proto/*.proto into src/proto/generated/ (or the folder given as the first
// argument: the check in test/proto/generated.test.ts generates into a temporary one and compares). buf compiles the
// .proto files (no protoc needed: @bufbuild/buf ships the binary) and ts-proto writes the types. Only types: at run
// time @grpc/proto-loader loads the same .proto files, so the options below describe what proto-loader hands over
// (64-bit integers as numbers, enums as their names, maps as plain objects, absent `optional` fields left out). No
// UNRECOGNIZED enum member: proto-loader never yields one (a value the .proto does not name comes over as its number).
// One casing convention: every protocol, the group's and the kubelet's, is read with camelCase field names
// (proto-loader keepCase: false, ts-proto snakeToCamel), as JavaScript names them; the wire does not carry names, so
// what travels is the same as with the .proto files' snake_case.
// The output is committed, as deploy/'s generated manifests are, and checked the same way (byte for byte): the
// typecheck and knip read it (without it tsc fails and knip reports unresolved imports), the bundles do not (the
// imports are type-only), so committing it keeps `tsc` and `npm run lint` free of a generation step, and a protocol
// change shows its types in review.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  'unrecognizedEnum=false',
  'useOptionals=none',
  'useMapType=false',
  'oneof=properties',
  'esModuleInterop=true',
  'importSuffix=.js',
];
const PROTOS = readdirSync(join(root, 'src', 'proto')).filter((f) => f.endsWith('.proto'));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const template = {
  version: 'v2',
  plugins: [
    {
      local: join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto'),
      out,
      opt: [...COMMON, 'snakeToCamel=true'],
    },
  ],
};
const paths = PROTOS.flatMap((f) => ['--path', join('src', 'proto', f)]);
execFileSync(
  join(root, 'node_modules', '.bin', 'buf'),
  ['generate', '--template', JSON.stringify(template), ...paths],
  {
    cwd: root,
    stdio: 'inherit',
  },
);

// ts-proto writes, beside each enum's const object and union type, a namespace of one type alias per member (with
// enumsAsLiterals it always does). Nothing names those aliases (a member is its string literal), and every enum's
// namespace is the same lines under other names, so they are dropped here; the output stays what the check compares.
const ENUM_NAMESPACE = /^export namespace \w+ \{\n(?: {2}export type \w+ = typeof [\w.]+;\n)*\}\n\n?/gm;
for (const file of readdirSync(out).filter((f) => f.endsWith('.ts'))) {
  const path = join(out, file);
  const text = readFileSync(path, 'utf8');
  const trimmed = text.replace(ENUM_NAMESPACE, '');
  if (trimmed !== text) writeFileSync(path, trimmed);
}
