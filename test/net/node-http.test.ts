/**
 * Programs load `node:http` through src/net/node-http.ts, never by an ESM value import: Node's ESM view of the module
 * reads its lazy WebSocket/MessageEvent getters and so loads the bundled undici (MBs of the agent's resident memory)
 * although nothing uses it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const HELPER = 'src/net/node-http.ts';

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** `import … from 'node:http'` (or 'http') that brings values, not only types. */
function valueImportsOfHttp(file: string, text = readFileSync(join(root, file), 'utf8')): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    if (!['node:http', 'http'].includes(statement.moduleSpecifier.text)) continue;
    const clause = statement.importClause;
    const typeOnly =
      clause?.isTypeOnly === true ||
      (clause !== undefined &&
        clause.name === undefined &&
        clause.namedBindings !== undefined &&
        ts.isNamedImports(clause.namedBindings) &&
        clause.namedBindings.elements.every((e) => e.isTypeOnly));
    if (!typeOnly) found.push(`${file}: ${statement.getText(source)}`);
  }
  return found;
}

/** Whether importing `code` in a fresh Node (the project's, 24) loads the bundled undici. */
function loadsUndici(code: string): boolean {
  const probe = `${code}\nconsole.log(process.moduleLoadList.some((m) => m.includes('undici')));`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' }).trim() === 'true';
}

describe('node:http without undici', () => {
  it('no program source imports node:http values except the helper', () => {
    const offenders = ['src', 'agent', 'leader']
      .flatMap(sources)
      .filter((f) => f !== HELPER)
      .flatMap((f) => valueImportsOfHttp(f));
    expect(offenders).toEqual([]);
  });

  it.each([
    ["import { request } from 'node:http';", true],
    ["import http from 'node:http';", true],
    ["import * as http from 'http';", true],
    ["import 'node:http';", true],
    ["import { type Server, createServer } from 'node:http';", true],
    ["import type { Server } from 'node:http';", false],
    ["import { type Server, type IncomingMessage } from 'node:http';", false],
    ["import type * as Http from 'node:http';", false],
    ["import { request } from 'node:https';", false],
  ])('the scan: %s → value import %s', (line, value) => {
    expect(valueImportsOfHttp('x.ts', line).length > 0).toBe(value);
  });

  it('an ESM import of node:http loads undici, the helper’s require does not', () => {
    expect(loadsUndici("import 'node:http';")).toBe(true);
    expect(
      loadsUndici("import { createRequire } from 'node:module'; createRequire(import.meta.url)('node:http');"),
    ).toBe(false);
  });
});
