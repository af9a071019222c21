import {
  CelScalar,
  type CelValue,
  celEnv,
  celFunc,
  celMethod,
  isCelError,
  isCelList,
  parse,
  plan,
} from '@bufbuild/cel';
import { parseQuantity } from '../../../src/kube/quantity.js';
import type { DeviceAttribute, SliceDevice } from '../../../src/kube/types.js';

/**
 * DRA's CEL environment for device selectors, evaluated with a real CEL implementation (@bufbuild/cel): the variable
 * `device` with `driver`, `attributes[<domain>].<id>` and `capacity[<domain>].<id>`. Ints are CEL ints, bools bools,
 * strings and versions strings. Capacities are ints (the quantity's value, rounded down), and `quantity("40Gi")` with
 * `<int>.compareTo(<int>)` covers the usual `device.capacity[…].memory.compareTo(quantity("40Gi")) >= 0`.
 * Not covered (Kubernetes' own CEL libraries): semver methods on versions, `isGreaterThan` and friends.
 *
 * List-typed attributes (KEP-5491, kube-scheduler gate DRAListTypeAttributes), after k8s.io/dynamic-resource-allocation
 * cel/compile.go (1.36): with the gate on, `ints`/`bools`/`strings`/`versions` are CEL lists (so `1 in x`,
 * `x.exists(…)` work) and the environment has `<value>.includes(<arg>)`, true when a list holds the argument or a
 * scalar equals it (lists longer than the 48-value budget are an error there). With the gate off a device carrying a
 * list value cannot be evaluated at all ("unsupported attribute value"), which keeps it from being allocated, and
 * `includes` is not declared.
 */

const SCALE = 10n ** 12n;

function quantityValue(text: string): bigint {
  const v = parseQuantity(text);
  if (v === undefined) throw new Error(`invalid quantity ${JSON.stringify(text)}`);
  return v / SCALE;
}

/** ResourceSliceMaxAttributeValuesPerDevice: `includes` refuses longer lists, bounding its cost. */
const MAX_ATTRIBUTE_VALUES = 48;

const sameScalar = (a: CelValue, b: CelValue): boolean => typeof a === typeof b && a === b;

const BASE_FUNCS = [
  celFunc('quantity', [CelScalar.STRING], CelScalar.INT, (s) => quantityValue(s)),
  celMethod('compareTo', CelScalar.INT, [CelScalar.INT], CelScalar.INT, function (other) {
    return this < other ? -1n : this > other ? 1n : 0n;
  }),
];

const INCLUDES = celMethod('includes', CelScalar.DYN, [CelScalar.DYN], CelScalar.BOOL, function (arg) {
  if (!isCelList(this)) return sameScalar(this, arg);
  if (this.size > MAX_ATTRIBUTE_VALUES)
    throw new Error(`'includes' function cannot be applied to lists longer than ${MAX_ATTRIBUTE_VALUES} values`);
  for (const item of this) if (sameScalar(item, arg)) return true;
  return false;
});

const ENVS = {
  scalar: celEnv({ variables: { device: CelScalar.DYN }, funcs: BASE_FUNCS }),
  list: celEnv({ variables: { device: CelScalar.DYN }, funcs: [...BASE_FUNCS, INCLUDES] }),
};

/** Attribute names split into domain and identifier; unprefixed names belong to the driver (FACTS.md §4). */
export function splitQualifiedName(name: string, driver: string): [string, string] {
  const slash = name.indexOf('/');
  return slash < 0 ? [driver, name] : [name.slice(0, slash), name.slice(slash + 1)];
}

type CelScalarValue = bigint | boolean | string;
type CelAttributeValue = CelScalarValue | CelScalarValue[];

/** The list value of an attribute, when it has one (any of the list fields, `ints` as CEL ints). */
function listValue(value: DeviceAttribute): CelScalarValue[] | undefined {
  if (value.ints) return value.ints.map((n) => BigInt(n));
  return value.bools ?? value.strings ?? value.versions;
}

/** A device as the CEL variable `device`, or why it cannot be evaluated (a list value with the gate off). */
export type CelDeviceInput = { device: Map<string, unknown> } | { error: string };

export function celDevice(driver: string, device: SliceDevice, listTypeAttributes = false): CelDeviceInput {
  const attributes = new Map<string, Map<string, CelAttributeValue>>();
  for (const [name, value] of Object.entries(device.attributes ?? {})) {
    const [domain, id] = splitQualifiedName(name, driver);
    const list = listValue(value);
    let v: CelAttributeValue | undefined;
    if (list !== undefined) {
      if (!listTypeAttributes) return { error: `attribute ${name}: unsupported attribute value` };
      v = list;
    } else if (value.int !== undefined) v = BigInt(value.int);
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
  return {
    device: new Map<string, unknown>([
      ['driver', driver],
      ['attributes', attributes],
      ['capacity', capacity],
    ]),
  };
}

export type CompiledSelector = (device: CelDeviceInput) => { match: boolean; error?: string };

const cache = new Map<string, CompiledSelector>();

/**
 * Compiles once per expression (and gate setting). A syntax error throws; a runtime error (missing attribute, a
 * device that cannot be evaluated) is "no match".
 */
export function compileSelector(expression: string, listTypeAttributes = false): CompiledSelector {
  const key = `${listTypeAttributes ? 'list' : 'scalar'}:${expression}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const run = plan(listTypeAttributes ? ENVS.list : ENVS.scalar, parse(expression));
  const compiled: CompiledSelector = (input) => {
    if ('error' in input) return { match: false, error: input.error };
    const result = run({ device: input.device as never });
    if (isCelError(result)) return { match: false, error: result.message };
    if (typeof result !== 'boolean') return { match: false, error: `selector returned ${typeof result}, not bool` };
    return { match: result };
  };
  cache.set(key, compiled);
  return compiled;
}
