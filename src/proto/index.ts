import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of one of the project's .proto files. From source this module sits beside them (src/proto/); in the
 * bundle, import.meta.url is dist/<entry>.mjs and the build copies them to dist/proto/.
 */
export function protoPath(name: string): string {
  const bundled = fileURLToPath(new URL(`./proto/${name}`, import.meta.url));
  if (existsSync(bundled)) return bundled;
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}
