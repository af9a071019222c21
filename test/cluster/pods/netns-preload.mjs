/**
 * Loaded into every Node process the pod runner starts (NODE_OPTIONS=--import=…): the two things a pod's network
 * namespace and the cluster DNS give a real pod, which local processes on one machine do not have.
 *  - Cluster DNS: names are looked up in the hosts file the test cluster's DNS controller keeps
 *    (TEST_CLUSTER_HOSTS_FILE, /etc/hosts format: `127.0.0.12 web-0.web.ns.svc.cluster.local`), with the pod's search
 *    domains (TEST_CLUSTER_DNS_SEARCH), before the machine's resolver. Re-read on each lookup: it changes as pods come
 *    and go, as DNS answers do.
 *  - The pod's /etc/hosts: the kubelet mounts a hosts file into each container that names the pod itself
 *    (`10.0.0.3  web-0.web.ns.svc.cluster.local  web-0`); reads of /etc/hosts get that file (TEST_CLUSTER_ETC_HOSTS),
 *    and lookups consult it first, as the resolver does.
 *  - Own address: a server that listens on every address (0.0.0.0, ::, no host) listens on the pod's IP
 *    (TEST_CLUSTER_POD_IP) instead, so two pods can use the same port, as they can in a cluster.
 * The program itself is not changed: it does real lookups and real listens.
 */
import dns from 'node:dns';
import fs, { readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

const hostsFile = process.env.TEST_CLUSTER_HOSTS_FILE;
const search = (process.env.TEST_CLUSTER_DNS_SEARCH ?? '').split(/\s+/).filter((s) => s !== '');
const podIP = process.env.TEST_CLUSTER_POD_IP;
const etcHosts = process.env.TEST_CLUSTER_ETC_HOSTS;

function parseHosts(text, table) {
  for (const raw of text.split('\n')) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length < 2) continue;
    for (const host of fields.slice(1)) if (!table.has(host.toLowerCase())) table.set(host.toLowerCase(), fields[0]);
  }
}

function clusterLookup(name) {
  if (typeof name !== 'string' || net.isIP(name)) return undefined;
  const table = new Map();
  for (const file of [etcHosts, hostsFile]) {
    if (!file) continue;
    try {
      parseHosts(readFileSync(file, 'utf8'), table);
    } catch {
      // not there (yet): no answers from it
    }
  }
  if (table.size === 0) return undefined;
  const wanted = name.toLowerCase().replace(/\.$/, '');
  const candidates = name.endsWith('.') ? [wanted] : [wanted, ...search.map((domain) => `${wanted}.${domain}`)];
  for (const candidate of candidates) {
    const address = table.get(candidate);
    if (address) return address;
  }
  return undefined;
}

function answer(address, options) {
  const family = net.isIP(address);
  const all = typeof options === 'object' && options !== null && options.all;
  return all ? [{ address, family }] : { address, family };
}

const originalLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  const cb = typeof options === 'function' ? options : callback;
  const opts = typeof options === 'function' ? {} : options;
  const address = clusterLookup(hostname);
  if (address && typeof cb === 'function') {
    const result = answer(address, opts);
    process.nextTick(() => (Array.isArray(result) ? cb(null, result) : cb(null, result.address, result.family)));
    return {};
  }
  return originalLookup.call(this, hostname, options, callback);
};

const originalPromiseLookup = dns.promises.lookup;
dns.promises.lookup = async function lookup(hostname, options) {
  const address = clusterLookup(hostname);
  if (address) return answer(address, options);
  return originalPromiseLookup.call(this, hostname, options);
};

if (etcHosts) {
  const redirect = (path) => (path === '/etc/hosts' ? etcHosts : path);
  const { readFileSync: readSync, readFile: readCb } = fs;
  const readPromise = fs.promises.readFile;
  fs.readFileSync = (path, ...rest) => readSync(redirect(path), ...rest);
  fs.readFile = (path, ...rest) => readCb(redirect(path), ...rest);
  fs.promises.readFile = (path, ...rest) => readPromise(redirect(path), ...rest);
}
syncBuiltinESMExports();

const ANY = new Set(['0.0.0.0', '::', '']);
const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listen(...args) {
  if (podIP) {
    const [first] = args;
    if (typeof first === 'object' && first !== null && !Array.isArray(first) && first.path === undefined) {
      if (first.port !== undefined && ANY.has(first.host ?? '')) args[0] = { ...first, host: podIP };
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      if (typeof args[1] !== 'string' || ANY.has(args[1])) {
        if (typeof args[1] === 'string') args[1] = podIP;
        else args.splice(1, 0, podIP);
      }
    }
  }
  return originalListen.apply(this, args);
};
