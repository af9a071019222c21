/**
 * Semantic validation of resource.k8s.io/v1 objects, after k8s.io/kubernetes pkg/apis/resource/validation (1.34):
 * the same limits, field paths and messages. Pure: objects in, field errors out.
 */
import { isIP } from 'node:net';
import { parse as parseCel } from '@bufbuild/cel';
import type { FieldError } from '../errors.js';
import { isRecord, type KubeObject } from '../types.js';
import {
  DNS1123_LABEL_MSG,
  invalidEach,
  isCIdentifier,
  isDns1123Label,
  isDns1123Subdomain,
  isLabelValue,
  isQualifiedName,
} from './names.js';

/**
 * Limits of resource.k8s.io (pkg/apis/resource/types.go, 1.34; the attribute-value budget from 1.36, where
 * ResourceSliceMaxAttributeValuesPerDevice came with the list-typed attributes of KEP-5491).
 */
const LIMITS = {
  devicesPerSlice: 128,
  /** ResourceSliceMaxDevicesWithAdvancedFeatures: any device with taints, counters or a list-typed attribute */
  devicesPerSliceWithTaints: 64,
  attributesAndCapacitiesPerDevice: 32,
  /** scalar attributes count one each, list attributes one per entry (validation.go numEntriesDeviceAttribute) */
  attributeValuesPerDevice: 48,
  attributeValueLength: 64,
  driverNameLength: 63,
  maxDomainLength: 63,
  maxIdLength: 32,
  poolNameLength: 253,
  taintsPerDevice: 4,
  selectorsPerClass: 32,
  configPerClass: 32,
  requestsPerClaim: 32,
  constraintsPerClaim: 32,
  opaqueParametersLength: 10 * 1024,
  celExpressionLength: 10 * 1024,
  deviceStatusConditions: 8,
  deviceStatusDataLength: 10 * 1024,
} as const;

const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'None'];

const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$/;

type Errs = FieldError[];

function rec(v: unknown): Record<string, unknown> {
  return isRecord(v) ? v : {};
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function required(field: string, detail = ''): FieldError {
  return { type: 'FieldValueRequired', field, detail };
}

function invalid(field: string, value: unknown, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field, value, detail };
}

function tooMany(field: string, n: number, max: number): FieldError {
  return { type: 'FieldValueTooMany', field, value: n, detail: `must have at most ${max} items` };
}

function tooLong(field: string, max: number): FieldError {
  return { type: 'FieldValueTooLong', field, detail: `may not be more than ${max} bytes` };
}

/** corevalidation.ValidateCSIDriverName: the driver-name rule shared by DRA. */
function validateDriverName(name: unknown, field: string): Errs {
  const v = typeof name === 'string' ? name : '';
  const errs: Errs = [];
  if (v.length === 0) errs.push(required(field));
  if (v.length > LIMITS.driverNameLength)
    errs.push({
      type: 'FieldValueTooLong',
      field,
      value: v,
      detail: `may not be more than ${LIMITS.driverNameLength} bytes`,
    });
  errs.push(...invalidEach(field, v, isDns1123Subdomain(v.toLowerCase())));
  return errs;
}

function validatePoolName(name: unknown, field: string): Errs {
  const v = typeof name === 'string' ? name : '';
  if (v === '') return [required(field)];
  const errs: Errs = [];
  if (v.length > LIMITS.poolNameLength) errs.push(tooLong(field, LIMITS.poolNameLength));
  for (const part of v.split('/')) errs.push(...invalidEach(field, part, isDns1123Subdomain(part)));
  return errs;
}

function validateCIdentifier(id: string, field: string): Errs {
  const errs: Errs = [];
  if (id.length > LIMITS.maxIdLength) errs.push(tooLong(field, LIMITS.maxIdLength));
  errs.push(...invalidEach(field, id, isCIdentifier(id)));
  return errs;
}

/** Attribute and capacity names: C identifier, or `<DNS subdomain>/<C identifier>`. Errors name the map, not the key. */
function validateQualifiedName(name: string, field: string): Errs {
  const parts = name.split('/');
  if (parts.length === 1) return validateCIdentifier(parts[0], field);
  if (parts.length === 2) {
    const errs: Errs = [];
    if (parts[0] === '') errs.push(invalid(field, '', 'the domain must not be empty'));
    else errs.push(...validateDriverName(parts[0], field));
    if (parts[1] === '') errs.push(invalid(field, '', 'the name must not be empty'));
    else errs.push(...validateCIdentifier(parts[1], field));
    return errs;
  }
  return [invalid(field, name, 'must not contain more than one slash')];
}

function truncateKey(key: string, max: number): string {
  const limit = Math.max(max, 16);
  if (key.length <= limit) return key;
  const remaining = limit - 3;
  return `${key.slice(0, Math.ceil(remaining / 2))}...${key.slice(key.length - Math.floor(remaining / 2))}`;
}

const KEY_TRUNCATE = LIMITS.maxDomainLength + 1 + LIMITS.maxIdLength;

/**
 * The list-typed fields of a DeviceAttribute (KEP-5491, alpha 1.36 behind DRAListTypeAttributes): `ints`, `bools`,
 * `strings`, `versions`, each a union member beside the scalar fields.
 */
export const LIST_ATTRIBUTE_FIELDS = ['ints', 'bools', 'strings', 'versions'] as const;

function validateStringValue(value: string, field: string): Errs {
  return value.length > LIMITS.attributeValueLength ? [tooLong(field, LIMITS.attributeValueLength)] : [];
}

function validateVersionValue(value: string, field: string): Errs {
  const errs: Errs = [];
  if (!SEMVER_RE.test(value))
    errs.push(invalid(field, value, 'must be a string compatible with semver.org spec 2.0.0'));
  errs.push(...validateStringValue(value, field));
  return errs;
}

/**
 * One attribute: exactly one of the scalar or list fields (a union; a field that is present counts even when empty,
 * as a non-nil Go slice does); a list must not be empty; list strings and versions are checked item by item.
 * After pkg/apis/resource/validation validateDeviceAttribute (kubernetes/kubernetes, 1.36 with KEP-5491).
 */
function validateAttribute(attr: unknown, field: string): Errs {
  const a = rec(attr);
  const errs: Errs = [];
  let n = 0;
  if (a.bool !== undefined && a.bool !== null) n++;
  if (a.int !== undefined && a.int !== null) n++;
  if (typeof a.string === 'string') {
    n++;
    errs.push(...validateStringValue(a.string, `${field}.string`));
  }
  if (typeof a.version === 'string') {
    n++;
    errs.push(...validateVersionValue(a.version, `${field}.version`));
  }
  for (const name of LIST_ATTRIBUTE_FIELDS) {
    const list = a[name];
    if (!Array.isArray(list)) continue;
    n++;
    if (list.length === 0) errs.push(invalid(`${field}.${name}`, list, 'must not be empty if specified'));
    list.forEach((item, i) => {
      if (name === 'strings' && typeof item === 'string')
        errs.push(...validateStringValue(item, `${field}.${name}[${i}]`));
      if (name === 'versions' && typeof item === 'string')
        errs.push(...validateVersionValue(item, `${field}.${name}[${i}]`));
    });
  }
  if (n === 0) errs.push(invalid(field, '', 'exactly one value must be specified'));
  else if (n > 1) errs.push(invalid(field, a, 'exactly one value must be specified'));
  return errs;
}

/** Attribute values of a device against the 48-value budget: a scalar counts one, a list one per entry. */
function attributeValueCount(attrs: Record<string, unknown>): number {
  let total = 0;
  for (const value of Object.values(attrs)) {
    const a = rec(value);
    const entries = LIST_ATTRIBUTE_FIELDS.reduce((sum, name) => sum + arr(a[name]).length, 0);
    total += entries === 0 ? 1 : entries;
  }
  return total;
}

function hasListAttribute(device: unknown): boolean {
  return Object.values(rec(rec(device).attributes)).some((a) =>
    LIST_ATTRIBUTE_FIELDS.some((name) => Array.isArray(rec(a)[name])),
  );
}

export function validateTaint(taint: unknown, field: string): Errs {
  const t = rec(taint);
  const errs: Errs = [];
  const key = typeof t.key === 'string' ? t.key : '';
  if (key === '') errs.push(required(`${field}.key`));
  else errs.push(...invalidEach(`${field}.key`, key, isQualifiedName(key)));
  if (typeof t.value === 'string' && t.value !== '')
    errs.push(...invalidEach(`${field}.value`, t.value, isLabelValue(t.value)));
  const effect = typeof t.effect === 'string' ? t.effect : '';
  if (effect === '') errs.push(required(`${field}.effect`));
  else if (!TAINT_EFFECTS.includes(effect))
    errs.push({
      type: 'FieldValueNotSupported',
      field: `${field}.effect`,
      value: effect,
      detail: '',
      supported: TAINT_EFFECTS,
    });
  return errs;
}

function validateDevice(device: unknown, field: string): Errs {
  const d = rec(device);
  const errs: Errs = [];
  const name = typeof d.name === 'string' ? d.name : '';
  if (name === '') errs.push(invalid(`${field}.name`, '', DNS1123_LABEL_MSG));
  else errs.push(...invalidEach(`${field}.name`, name, isDns1123Label(name)));
  const attrs = rec(d.attributes);
  const caps = rec(d.capacity);
  const total = Object.keys(attrs).length + Object.keys(caps).length;
  if (total > LIMITS.attributesAndCapacitiesPerDevice)
    errs.push(
      invalid(
        field,
        total,
        `the total number of attributes and capacities must not exceed ${LIMITS.attributesAndCapacitiesPerDevice}`,
      ),
    );
  const values = attributeValueCount(attrs);
  if (values > LIMITS.attributeValuesPerDevice)
    errs.push(
      invalid(field, values, `the total number of attribute values must not exceed ${LIMITS.attributeValuesPerDevice}`),
    );
  for (const [key, value] of Object.entries(attrs)) {
    errs.push(...validateQualifiedName(key, `${field}.attributes`));
    errs.push(...validateAttribute(value, `${field}.attributes[${truncateKey(key, KEY_TRUNCATE)}]`));
  }
  for (const key of Object.keys(caps)) errs.push(...validateQualifiedName(key, `${field}.capacity`));
  const taints = arr(d.taints);
  if (taints.length > LIMITS.taintsPerDevice)
    errs.push(tooMany(`${field}.taints`, taints.length, LIMITS.taintsPerDevice));
  else
    taints.forEach((t, i) => {
      errs.push(...validateTaint(t, `${field}.taints[${i}]`));
    });
  if (d.nodeName !== undefined || d.nodeSelector !== undefined || d.allNodes !== undefined)
    errs.push(
      invalid(
        field,
        null,
        '`nodeName`, `nodeSelector` and `allNodes` can only be set if `perDeviceNodeSelection` is set to true in the ResourceSlice spec',
      ),
    );
  return errs;
}

function validateNodeSelector(sel: unknown, field: string): Errs {
  const terms = arr(rec(sel).nodeSelectorTerms);
  const errs: Errs = [];
  if (terms.length === 0)
    errs.push(required(`${field}.nodeSelectorTerms`, 'must have at least one node selector term'));
  if (terms.length !== 1)
    errs.push(invalid(`${field}.nodeSelectorTerms`, terms, 'must have exactly one node selector term'));
  return errs;
}

function validateResourceSliceSpec(spec: unknown, oldSpec: unknown): Errs {
  const s = rec(spec);
  const errs: Errs = [];
  errs.push(...validateDriverName(s.driver, 'spec.driver'));
  const pool = rec(s.pool);
  errs.push(...validatePoolName(pool.name, 'spec.pool.name'));
  const count = typeof pool.resourceSliceCount === 'number' ? pool.resourceSliceCount : 0;
  if (count <= 0) errs.push(invalid('spec.pool.resourceSliceCount', count, 'must be greater than zero'));
  const generation = typeof pool.generation === 'number' ? pool.generation : 0;
  if (generation < 0) errs.push(invalid('spec.pool.generation', generation, 'must be greater than or equal to zero'));
  if (oldSpec !== undefined) {
    const o = rec(oldSpec);
    const immutable = (field: string, a: unknown, b: unknown) => {
      if (JSON.stringify(a) !== JSON.stringify(b)) errs.push(invalid(field, a, 'field is immutable'));
    };
    immutable('spec.pool.name', pool.name, rec(o.pool).name);
    immutable('spec.driver', s.driver, o.driver);
    immutable('spec.nodeName', s.nodeName, o.nodeName);
  }
  const set: string[] = [];
  if (s.nodeName !== undefined && s.nodeName !== null) {
    if (s.nodeName !== '') {
      set.push('`nodeName`');
      errs.push(...invalidEach('spec.nodeName', s.nodeName, isDns1123Subdomain(String(s.nodeName))));
    } else errs.push(invalid('spec.nodeName', '', 'must be either unset or set to a non-empty string'));
  }
  if (s.nodeSelector !== undefined && s.nodeSelector !== null) {
    set.push('`nodeSelector`');
    errs.push(...validateNodeSelector(s.nodeSelector, 'spec.nodeSelector'));
  }
  for (const flag of ['allNodes', 'perDeviceNodeSelection'] as const) {
    if (s[flag] === undefined || s[flag] === null) continue;
    if (s[flag] === true) set.push(`\`${flag}\``);
    else errs.push(invalid(`spec.${flag}`, s[flag], 'must be either unset or set to true'));
  }
  if (set.length === 0)
    errs.push(
      required('spec', 'exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required'),
    );
  else if (set.length > 1)
    errs.push(
      invalid(
        'spec',
        `{${set.join(', ')}}`,
        'exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required, but multiple fields are set',
      ),
    );
  const devices = arr(s.devices);
  const withTaints = devices.some(
    (d) => arr(rec(d).taints).length > 0 || arr(rec(d).consumesCounters).length > 0 || hasListAttribute(d),
  );
  const max = withTaints ? LIMITS.devicesPerSliceWithTaints : LIMITS.devicesPerSlice;
  if (devices.length > max) {
    errs.push(tooMany('spec.devices', devices.length, max));
    return errs;
  }
  const seen = new Set<string>();
  devices.forEach((d, i) => {
    errs.push(...validateDevice(d, `spec.devices[${i}]`));
  });
  devices.forEach((d, i) => {
    const name = String(rec(d).name ?? '');
    if (seen.has(name))
      errs.push({ type: 'FieldValueDuplicate', field: `spec.devices[${i}]`, value: name, detail: '' });
    seen.add(name);
  });
  return errs;
}

function validateCelSelector(selector: unknown, field: string): Errs {
  const cel = rec(rec(selector).cel);
  const expr = typeof cel.expression === 'string' ? cel.expression : '';
  if (expr === '') return [required(`${field}.cel.expression`)];
  if (expr.length > LIMITS.celExpressionLength) return [tooLong(`${field}.cel.expression`, LIMITS.celExpressionLength)];
  try {
    parseCel(expr);
  } catch (err) {
    return [invalid(`${field}.cel.expression`, expr, `compilation failed: ${(err as Error).message}`)];
  }
  return [];
}

function validateOpaqueConfig(config: unknown, field: string): Errs {
  const opaque = rec(config).opaque;
  if (opaque === undefined) return [required(field, 'exactly one of `opaque` is required')];
  const o = rec(opaque);
  const errs = validateDriverName(o.driver, `${field}.opaque.driver`);
  if (o.parameters === undefined || o.parameters === null) errs.push(required(`${field}.opaque.parameters`));
  else if (!isRecord(o.parameters))
    errs.push(invalid(`${field}.opaque.parameters`, '<value omitted>', 'must be a valid JSON object'));
  else if (JSON.stringify(o.parameters).length > LIMITS.opaqueParametersLength)
    errs.push(tooLong(`${field}.opaque.parameters`, LIMITS.opaqueParametersLength));
  return errs;
}

function validateDeviceClassSpec(spec: unknown): Errs {
  const s = rec(spec);
  const errs: Errs = [];
  const selectors = arr(s.selectors);
  if (selectors.length > LIMITS.selectorsPerClass)
    errs.push(tooMany('spec.selectors', selectors.length, LIMITS.selectorsPerClass));
  else
    selectors.forEach((sel, i) => {
      errs.push(...validateCelSelector(sel, `spec.selectors[${i}]`));
    });
  const config = arr(s.config);
  if (config.length > LIMITS.configPerClass) errs.push(tooMany('spec.config', config.length, LIMITS.configPerClass));
  else
    config.forEach((c, i) => {
      errs.push(...validateOpaqueConfig(c, `spec.config[${i}]`));
    });
  if (typeof s.extendedResourceName === 'string' && !/^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/.test(s.extendedResourceName))
    errs.push(invalid('spec.extendedResourceName', s.extendedResourceName, 'must be a valid extended resource name'));
  return errs;
}

function validateExactRequest(r: Record<string, unknown>, field: string): Errs {
  const errs: Errs = [];
  const cls = typeof r.deviceClassName === 'string' ? r.deviceClassName : '';
  if (cls === '') errs.push(required(`${field}.deviceClassName`));
  else errs.push(...invalidEach(`${field}.deviceClassName`, cls, isDns1123Subdomain(cls)));
  arr(r.selectors).forEach((sel, i) => {
    errs.push(...validateCelSelector(sel, `${field}.selectors[${i}]`));
  });
  const mode = r.allocationMode ?? 'ExactCount';
  if (mode === 'All') {
    if (r.count !== undefined && r.count !== 0)
      errs.push(invalid(`${field}.count`, r.count, "must not be specified when allocationMode is 'All'"));
  } else if (mode === 'ExactCount') {
    if (r.count !== undefined && (typeof r.count !== 'number' || r.count <= 0))
      errs.push(invalid(`${field}.count`, r.count, 'must be greater than zero'));
  } else {
    errs.push({
      type: 'FieldValueNotSupported',
      field: `${field}.allocationMode`,
      value: mode,
      detail: '',
      supported: ['All', 'ExactCount'],
    });
  }
  return errs;
}

function validateClaimSpec(spec: unknown, base: string): Errs {
  const devices = rec(rec(spec).devices);
  const errs: Errs = [];
  const requests = arr(devices.requests);
  const names = new Set<string>();
  if (requests.length > LIMITS.requestsPerClaim)
    return [tooMany(`${base}.devices.requests`, requests.length, LIMITS.requestsPerClaim)];
  requests.forEach((raw, i) => {
    const field = `${base}.devices.requests[${i}]`;
    const r = rec(raw);
    const name = typeof r.name === 'string' ? r.name : '';
    errs.push(
      ...(name === '' ? [required(`${field}.name`)] : invalidEach(`${field}.name`, name, isDns1123Label(name))),
    );
    if (names.has(name)) errs.push({ type: 'FieldValueDuplicate', field, value: name, detail: '' });
    names.add(name);
    const hasExactly = isRecord(r.exactly);
    const first = arr(r.firstAvailable);
    if (!hasExactly && first.length === 0)
      errs.push(required(field, 'exactly one of `exactly` or `firstAvailable` is required'));
    else if (hasExactly && first.length > 0)
      errs.push(
        invalid(field, null, 'exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set'),
      );
    else if (hasExactly) errs.push(...validateExactRequest(rec(r.exactly), `${field}.exactly`));
    else
      first.forEach((sub, j) => {
        const s = rec(sub);
        const subField = `${field}.firstAvailable[${j}]`;
        const subName = typeof s.name === 'string' ? s.name : '';
        errs.push(
          ...(subName === ''
            ? [required(`${subField}.name`)]
            : invalidEach(`${subField}.name`, subName, isDns1123Label(subName))),
        );
        errs.push(...validateExactRequest(s, subField));
      });
  });
  const constraints = arr(devices.constraints);
  if (constraints.length > LIMITS.constraintsPerClaim)
    errs.push(tooMany(`${base}.devices.constraints`, constraints.length, LIMITS.constraintsPerClaim));
  constraints.forEach((c, i) => {
    arr(rec(c).requests).forEach((req, j) => {
      const top = String(req).split('/')[0];
      if (!names.has(top))
        errs.push(
          invalid(
            `${base}.devices.constraints[${i}].requests[${j}]`,
            req,
            "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'",
          ),
        );
    });
    const match = rec(c).matchAttribute;
    if (typeof match === 'string') {
      if (!match.includes('/'))
        errs.push(
          invalid(
            `${base}.devices.constraints[${i}].matchAttribute`,
            match,
            'a fully qualified name must be a domain and a name separated by a slash',
          ),
        );
      errs.push(...validateQualifiedName(match, `${base}.devices.constraints[${i}].matchAttribute`));
    }
  });
  return errs;
}

export function validateResourceSlice(obj: KubeObject, old: KubeObject | undefined): Errs {
  return validateResourceSliceSpec(obj.spec, old ? old.spec : undefined);
}

export function validateResourceClaim(
  obj: KubeObject,
  old: KubeObject | undefined,
  subresource: string | undefined,
): Errs {
  if (subresource === 'status') return validateClaimStatus(obj, old);
  if (old && JSON.stringify(obj.spec) !== JSON.stringify(old.spec))
    return [invalid('spec', obj.spec, 'field is immutable')];
  return old ? [] : validateClaimSpec(obj.spec, 'spec');
}

/** What an allocation result may name in `request`: each request, and `<request>/<subrequest>` for firstAvailable. */
function requestNamesOf(claimSpec: unknown): Set<string> {
  const names = new Set<string>();
  for (const raw of arr(rec(rec(claimSpec).devices).requests)) {
    const r = rec(raw);
    if (typeof r.name !== 'string') continue;
    names.add(r.name);
    for (const sub of arr(r.firstAvailable))
      if (typeof rec(sub).name === 'string') names.add(`${r.name}/${String(rec(sub).name)}`);
  }
  return names;
}

const REQUEST_REF =
  "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'";

function validateConsumerRef(ref: unknown, field: string): Errs {
  const r = rec(ref);
  const errs: Errs = [];
  for (const key of ['resource', 'name', 'uid'])
    if (typeof r[key] !== 'string' || r[key] === '') errs.push(required(`${field}.${key}`));
  return errs;
}

/**
 * validateResourceClaimStatusUpdate: an allocation, once set, may only be removed (deallocation), never changed;
 * each result names a request of the claim; `reservedFor` needs an allocation, at most 256 unique consumers, and
 * gains no new entries while the claim is being deleted.
 */
function validateClaimStatus(obj: KubeObject, old: KubeObject | undefined): Errs {
  const status = rec(obj.status);
  const oldStatus = rec(old?.status);
  const errs: Errs = [];
  const reserved = arr(status.reservedFor);
  if (reserved.length > 256) errs.push(tooMany('status.reservedFor', reserved.length, 256));
  const uids = new Set<string>();
  reserved.forEach((ref, i) => {
    errs.push(...validateConsumerRef(ref, `status.reservedFor[${i}]`));
    const uid = rec(ref).uid;
    if (typeof uid === 'string' && uid !== '') {
      if (uids.has(uid))
        errs.push({ type: 'FieldValueDuplicate', field: `status.reservedFor[${i}].uid`, value: uid, detail: '' });
      uids.add(uid);
    }
  });
  const allocation = status.allocation;
  if (reserved.length > 0) {
    if (!isRecord(allocation))
      errs.push({
        type: 'FieldValueForbidden',
        field: 'status.reservedFor',
        detail: 'may not be specified when `allocated` is not set',
      });
    else if (obj.metadata.deletionTimestamp) {
      const before = new Set(arr(oldStatus.reservedFor).map((r) => rec(r).uid));
      if (reserved.some((r) => !before.has(rec(r).uid)))
        errs.push({
          type: 'FieldValueForbidden',
          field: 'status.reservedFor',
          detail: 'new entries may not be added while `deallocationRequested` or `deletionTimestamp` are set',
        });
    }
  }
  errs.push(...validateDeviceStatuses(status));
  if (isRecord(allocation) && isRecord(oldStatus.allocation)) {
    if (JSON.stringify(allocation) !== JSON.stringify(oldStatus.allocation))
      errs.push(invalid('status.allocation', allocation, 'field is immutable'));
    return errs;
  }
  if (!isRecord(allocation)) return errs;
  const requestNames = requestNamesOf(obj.spec);
  arr(rec(allocation.devices).results).forEach((r, i) => {
    const x = rec(r);
    const field = `status.allocation.devices.results[${i}]`;
    const request = typeof x.request === 'string' ? x.request : '';
    if (request === '') errs.push(required(`${field}.request`));
    else if (request.split('/').length > 2 || !requestNames.has(request))
      errs.push(invalid(`${field}.request`, request, REQUEST_REF));
    errs.push(...validateDriverName(x.driver, `${field}.driver`));
    errs.push(...validatePoolName(x.pool, `${field}.pool`));
    const device = typeof x.device === 'string' ? x.device : '';
    errs.push(...invalidEach(`${field}.device`, device, isDns1123Label(device)));
  });
  return errs;
}

/** `driver/pool/device` of an allocation result or a device status (structured.MakeDeviceID). */
function deviceId(entry: unknown): string {
  const x = rec(entry);
  return `${String(x.driver ?? '')}/${String(x.pool ?? '')}/${String(x.device ?? '')}`;
}

/**
 * validateDeviceStatus for every `status.devices` entry: it names an allocated device of the claim, once; at most 8
 * conditions, each with a type and a True/False/Unknown status; `data` a JSON object ≤ 10 Ki; `networkData` with an
 * interface name ≤ 256, a hardware address ≤ 128 and at most 16 unique IPs in canonical CIDR form.
 */
function validateDeviceStatuses(status: Record<string, unknown>): Errs {
  const devices = arr(status.devices);
  if (devices.length === 0) return [];
  const allocated = new Set(arr(rec(rec(status.allocation).devices).results).map(deviceId));
  const errs: Errs = [];
  const seen = new Set<string>();
  devices.forEach((entry, i) => {
    const field = `status.devices[${i}]`;
    const x = rec(entry);
    errs.push(...validateDriverName(x.driver, `${field}.driver`));
    errs.push(...validatePoolName(x.pool, `${field}.pool`));
    const device = typeof x.device === 'string' ? x.device : '';
    errs.push(...invalidEach(`${field}.device`, device, isDns1123Label(device)));
    const id = deviceId(x);
    if (!allocated.has(id)) errs.push(invalid(field, id, 'must be an allocated device in the claim'));
    if (seen.has(id)) errs.push({ type: 'FieldValueDuplicate', field, value: id, detail: '' });
    seen.add(id);
    const conditions = arr(x.conditions);
    if (conditions.length > LIMITS.deviceStatusConditions)
      errs.push(tooMany(`${field}.conditions`, conditions.length, LIMITS.deviceStatusConditions));
    conditions.forEach((condition, c) => {
      const cond = rec(condition);
      if (typeof cond.type !== 'string' || cond.type === '') errs.push(required(`${field}.conditions[${c}].type`));
      if (!['True', 'False', 'Unknown'].includes(String(cond.status)))
        errs.push({
          type: 'FieldValueNotSupported',
          field: `${field}.conditions[${c}].status`,
          value: cond.status,
          detail: 'supported values: "False", "True", "Unknown"',
        });
    });
    if (x.data !== undefined) {
      if (!isRecord(x.data)) errs.push(invalid(`${field}.data`, '<value omitted>', 'must be a valid JSON object'));
      else if (JSON.stringify(x.data).length > LIMITS.deviceStatusDataLength)
        errs.push(tooLong(`${field}.data`, LIMITS.deviceStatusDataLength));
    }
    if (x.networkData !== undefined) errs.push(...validateNetworkData(rec(x.networkData), `${field}.networkData`));
  });
  return errs;
}

function validateNetworkData(data: Record<string, unknown>, field: string): Errs {
  const errs: Errs = [];
  if (String(data.interfaceName ?? '').length > 256) errs.push(tooLong(`${field}.interfaceName`, 256));
  if (String(data.hardwareAddress ?? '').length > 128) errs.push(tooLong(`${field}.hardwareAddress`, 128));
  const ips = arr(data.ips);
  if (ips.length > 16) return [...errs, tooMany(`${field}.ips`, ips.length, 16)];
  const seen = new Set<string>();
  ips.forEach((ip, i) => {
    const text = String(ip);
    const problem = interfaceAddressProblem(text);
    if (problem) errs.push(invalid(`${field}.ips[${i}]`, text, problem));
    if (seen.has(text))
      errs.push({ type: 'FieldValueDuplicate', field: `${field}.ips[${i}]`, value: text, detail: '' });
    seen.add(text);
  });
  return errs;
}

/** validation.IsValidInterfaceAddress: an address with a prefix length, written canonically (no leading zeros…). */
function interfaceAddressProblem(text: string): string | undefined {
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const address = cidr?.[1] ?? '';
  const family = isIP(address);
  const bits = Number(cidr?.[2] ?? -1);
  if (!cidr || family === 0 || bits > (family === 4 ? 32 : 128) || String(bits) !== cidr[2])
    return 'must be a valid address in CIDR form, (e.g. 10.9.8.7/24 or 2001:db8::1/64)';
  const canonical = family === 4 ? address : new URL(`http://[${address}]/`).hostname.slice(1, -1);
  if (canonical !== address) return `must be in canonical form ("${canonical}/${bits}")`;
  return undefined;
}

/**
 * The real strategy's dropDeallocatedStatusDevices: a claim whose allocation is removed loses its device statuses
 * with it (a driver cannot report on devices the claim no longer holds).
 */
export function dropDeallocatedDeviceStatuses(claim: KubeObject): void {
  const status = claim.status;
  if (isRecord(status) && status.devices !== undefined && !isRecord(status.allocation)) delete status.devices;
}

export function validateClaimTemplate(obj: KubeObject, old: KubeObject | undefined): Errs {
  if (old) {
    return JSON.stringify(obj.spec) !== JSON.stringify(old.spec)
      ? [invalid('spec', obj.spec, 'field is immutable')]
      : [];
  }
  return validateClaimSpec(rec(obj.spec).spec, 'spec.spec');
}

export function validateDeviceClass(obj: KubeObject): Errs {
  return validateDeviceClassSpec(obj.spec);
}

/**
 * Device taints behind the DRADeviceTaints gate: without it the field is dropped (unless the stored object already
 * had taints, the usual "in use" exception); with it, `timeAdded` is set where missing.
 */
export function prepareSliceTaints(obj: KubeObject, old: KubeObject | undefined, gateOn: boolean, now: string): void {
  const devices = arr(rec(obj.spec).devices);
  const oldUsed = old ? arr(rec(old.spec).devices).some((d) => rec(d).taints !== undefined) : false;
  for (const d of devices) {
    if (!isRecord(d) || d.taints === undefined) continue;
    if (!gateOn && !oldUsed) {
      delete d.taints;
      continue;
    }
    for (const t of arr(d.taints)) if (isRecord(t) && t.timeAdded === undefined) t.timeAdded = now;
  }
}

/**
 * List-typed attribute values behind the DRAListTypeAttributes gate: without it every list field is dropped on write
 * (pkg/registry/resource/resourceslice/strategy.go dropDisableDRAListTypeAttributesFields), unless the stored slice
 * already used one (the usual "in use" exception). An attribute that held only a list is then left empty, and
 * validation refuses the write with "exactly one value must be specified", as the real server does.
 */
export function prepareSliceListAttributes(obj: KubeObject, old: KubeObject | undefined, gateOn: boolean): void {
  if (gateOn || (old && arr(rec(old.spec).devices).some(hasListAttribute))) return;
  for (const d of arr(rec(obj.spec).devices)) {
    for (const a of Object.values(rec(rec(d).attributes))) {
      if (!isRecord(a)) continue;
      for (const name of LIST_ATTRIBUTE_FIELDS) delete a[name];
    }
  }
}
