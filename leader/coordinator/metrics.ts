/**
 * The coordinator's Prometheus metrics: the group's goodput (goodput.ts) and its epoch, read from the member table at
 * scrape time, served on `GET /metrics` at `--metrics-address` (off unless given: several coordinators share a host
 * in tests, and a pod chooses its own ports).
 *
 * Threats (the endpoint is reachable by anything that reaches the pod): it is read-only, answers only GET/HEAD of
 * /metrics (anything else 404/405) and prints no member identity beyond the group's name, which is in every label
 * of the leader pod anyway; a slow or stuck client cannot hold the process (request and header timeouts).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GROUP_STATES } from '../../src/contract/group-status.js';
import type { Logger } from '../../src/log.js';
import { parseHostPort } from '../../src/net/host-port.js';
import { http } from '../../src/net/node-http.js';
import type { GroupTable } from './group-table.js';

/** Buckets of the time-to-recover histogram, in seconds: from a warm in-place restart to a rescheduled pod. */
const RECOVERY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

/** A registry whose every series is computed from `table` when scraped. */
export function groupMetrics(table: GroupTable, now: () => number = Date.now): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ group: table.group, namespace: table.namespace });
  const registers = [registry];
  new Counter({
    name: 'lockstep_group_state_seconds_total',
    help: 'Seconds the group spent in each state since this coordinator started (Running = serving)',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      const seconds = table.goodput.secondsAt(now());
      for (const state of GROUP_STATES) this.inc({ state }, seconds[state]);
    },
  });
  new Gauge({
    name: 'lockstep_group_serving_fraction',
    help: 'Share of the time since this coordinator started that the group spent Running (its goodput)',
    registers,
    collect() {
      const seconds = table.goodput.secondsAt(now());
      const total = GROUP_STATES.reduce((sum, s) => sum + seconds[s], 0);
      this.set(total > 0 ? seconds.Running / total : 0);
    },
  });
  new Gauge({
    name: 'lockstep_group_state',
    help: 'The group state as a state set: 1 for the current state, 0 for the others',
    labelNames: ['state'],
    registers,
    collect() {
      for (const state of GROUP_STATES) this.set({ state }, table.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'lockstep_group_epoch',
    help: 'The current epoch (generation) of the group',
    registers,
    collect() {
      this.set(table.epoch);
    },
  });
  new Counter({
    name: 'lockstep_group_recoveries_total',
    help: 'Recoveries completed (a member lost → the group released into a new epoch), by the kind of loss',
    labelNames: ['loss'],
    registers,
    collect() {
      this.reset();
      for (const [loss, count] of table.goodput.recoveriesByLoss) this.inc({ loss }, count);
    },
  });
  new Histogram({
    name: 'lockstep_group_recovery_duration_seconds',
    help: 'Time to recover: a member lost → every member released into the next epoch',
    buckets: RECOVERY_BUCKETS,
    registers,
    collect() {
      this.reset();
      for (const ms of table.goodput.recoveries) this.observe(ms / 1000);
    },
  });
  new Gauge({
    name: 'lockstep_group_last_recovery_seconds',
    help: 'Duration of the last recovery (0 before the first)',
    registers,
    collect() {
      this.set((table.goodput.recoveries.at(-1) ?? 0) / 1000);
    },
  });
  return registry;
}

/**
 * Serves `registry` on GET /metrics at `address`, one the flag's parser accepted (src/cli/options.ts
 * parseListenAddress: `[host]:port`, IPv6 in brackets); resolves with the server once it listens.
 */
export async function serveMetrics(address: string, registry: Registry, log: Logger): Promise<Server> {
  const parsed = parseHostPort(address);
  const host = parsed?.host || undefined;
  const port = parsed?.port ?? 0;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.error({ err: String(err) }, 'cannot collect the metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot serve metrics on ${address}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  log.info({ port: (server.address() as AddressInfo).port }, 'serving the group metrics on /metrics');
  return server;
}
