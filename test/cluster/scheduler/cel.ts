import { CelScalar, celEnv, celFunc, celMethod, isCelError, parse, plan } from '@bufbuild/cel';
import { parseQuantity } from '../../../src/kube/quantity.js';
import type { SliceDevice } from '../../../src/kube/types.js';

/**
 * DRA's CEL environment for device selectors, evaluated with a real CEL implementation (@bufbuild/cel): the variable
 * `device` with `driver`, `attributes[<domain>].<id>` and `capacity[<domain>].<id>`. Ints are CEL ints, bools bools,
 * strings and versions strings. Capacities are ints (the quantity's value, rounded down), and `quantity("40Gi")` with
 * `<int>.compareTo(<int>)` covers the usual `device.capacity[…].memory.compareTo(quantity("40Gi")) >= 0`.
 * Not covered (Kubernetes' own CEL libraries): semver methods on versions, `isGreaterThan` and friends.
 */

const SCALE = 10n ** 12n;

function quantityValue(text: string): bigint {
  const v = parseQuantity(text);
  if (v === undefined) throw new Error(`invalid quantity ${JSON.stringify(text)}`);
  return v / SCALE;
}

const env = celEnv({
  variables: { device: CelScalar.DYN },
  funcs: [
    celFunc('quantity', [CelScalar.STRING], CelScalar.INT, (s) => quantityValue(s)),
    celMethod('compareTo', CelScalar.INT, [CelScalar.INT], CelScalar.INT, function (other) {
      return this < other ? -1n : this > other ? 1n : 0n;
    }),
  ],
});

/** Attribute names split into domain and identifier; unprefixed names belong to the driver (FACTS.md §4). */
export function splitQualifiedName(name: string, driver: string): [string, string] {
  const slash = name.indexOf('/');
  return slash < 0 ? [driver, name] : [name.slice(0, slash), name.slice(slash + 1)];
}

type CelScalarValue = bigint | boolean | string;

export function celDevice(driver: string, device: SliceDevice): Map<string, unknown> {
  const attributes = new Map<string, Map<string, CelScalarValue>>();
  for (const [name, value] of Object.entries(device.attributes ?? {})) {
    const [domain, id] = splitQualifiedName(name, driver);
    let v: CelScalarValue | undefined;
    if (value.int !== undefined) v = BigInt(value.int);
    else if (value.bool !== undefined) v = value.bool;
    else if (value.string !== undefined) v = value.string;
    else if (value.version !== undefined) v = value.version;
    if (v === undefined) continue;
    if (!attributes.has(domain)) attributes.set(domain, new Map());
    attributes.get(domain)!.set(id, v);
  }
  const capacity = new Map<string, Map<string, bigint>>();
  for (const [name, value] of Object.entries(device.capacity ?? {})) {
    const [domain, id] = splitQualifiedName(name, driver);
    if (!capacity.has(domain)) capacity.set(domain, new Map());
    capacity.get(domain)!.set(id, quantityValue(value.value));
  }
  return new Map<string, unknown>([
    ['driver', driver],
    ['attributes', attributes],
    ['capacity', capacity],
  ]);
}

export type CompiledSelector = (device: Map<string, unknown>) => { match: boolean; error?: string };

const cache = new Map<string, CompiledSelector>();

/** Compiles once per expression. A syntax error throws; a runtime error (missing attribute) is "no match". */
export function compileSelector(expression: string): CompiledSelector {
  const hit = cache.get(expression);
  if (hit) return hit;
  const run = plan(env, parse(expression));
  const compiled: CompiledSelector = (device) => {
    const result = run({ device: device as never });
    if (isCelError(result)) return { match: false, error: result.message };
    if (typeof result !== 'boolean') return { match: false, error: `selector returned ${typeof result}, not bool` };
    return { match: result };
  };
  cache.set(expression, compiled);
  return compiled;
}
