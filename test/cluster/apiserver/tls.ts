/** A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the `openssl` CLI. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const cache = new Map<string, TlsMaterial>();

/** One CA and certificate per host per process: making them costs tens of milliseconds, tests start many servers. */
export function tlsFor(dir: string, host: string): TlsMaterial {
  let m = cache.get(host);
  if (!m) {
    m = makeTls(dir, host);
    cache.set(host, m);
  }
  return m;
}

function makeTls(dir: string, host: string): TlsMaterial {
  const f = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=lockstep-test-ca',
  ]);
  run(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=kube-apiserver']);
  writeFileSync(
    f('san.ext'),
    `subjectAltName=IP:${host},IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n`,
  );
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('san.ext'),
  ]);
  return {
    caPem: readFileSync(f('ca.crt'), 'utf8'),
    certPem: readFileSync(f('server.crt'), 'utf8'),
    keyPem: readFileSync(f('server.key'), 'utf8'),
  };
}
