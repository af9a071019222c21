/**
 * Fault injection the tests drive: added latency, error rates (500, or 429 with Retry-After), one-shot failures,
 * dropping every open watch, a 410 on the next watch, a 409 on the next update. Decisions that are random use a
 * seeded generator so a failing test can be replayed.
 */

export interface FaultMatch {
  /** RBAC verbs (get, list, watch, create, update, patch, delete, deletecollection); all when absent. */
  verbs?: string[];
  /** Resources as `pods`, `resourceslices` (plural, no group); all when absent. */
  resources?: string[];
  users?: string[];
}

export interface FaultSettings {
  latencyMs?: number;
  /** Fraction (0–1) of matching requests answered with `errorCode`. */
  errorRate?: number;
  errorCode?: 500 | 429 | 503;
  retryAfterSeconds?: number;
  match?: FaultMatch;
  seed?: number;
}

export interface RequestFacts {
  verb: string;
  resource: string;
  user: string;
}

export interface InjectedError {
  code: number;
  retryAfterSeconds?: number;
}

function matches(m: FaultMatch | undefined, r: RequestFacts): boolean {
  if (!m) return true;
  if (m.verbs && !m.verbs.includes(r.verb)) return false;
  if (m.resources && !m.resources.includes(r.resource)) return false;
  if (m.users && !m.users.includes(r.user)) return false;
  return true;
}

export class Faults {
  private settings: FaultSettings = {};
  private rngState = 1;
  private oneShots: { count: number; code: number; retryAfterSeconds?: number; match?: FaultMatch }[] = [];
  private goneWatches = 0;
  private conflictUpdates = 0;
  /** Set by the server: ends every open watch stream. */
  dropWatchesHook: () => number = () => 0;

  set(settings: FaultSettings): void {
    this.settings = { ...settings };
    this.rngState = settings.seed ?? 1;
  }

  /** The next `count` matching requests fail with `code` (Retry-After for 429). */
  failNext(count: number, code: number, options: { retryAfterSeconds?: number; match?: FaultMatch } = {}): void {
    this.oneShots.push({ count, code, ...options });
  }

  /** The next `count` watch requests get a 410 Expired ERROR event, as after an etcd compaction. */
  expireNextWatch(count = 1): void {
    this.goneWatches += count;
  }

  /** The next `count` updates or patches answer 409 Conflict as if someone else had written first. */
  conflictNextUpdate(count = 1): void {
    this.conflictUpdates += count;
  }

  /** Ends every open watch; returns how many were open. */
  dropWatches(): number {
    return this.dropWatchesHook();
  }

  reset(): void {
    this.settings = {};
    this.oneShots = [];
    this.goneWatches = 0;
    this.conflictUpdates = 0;
  }

  get latencyMs(): number {
    return this.settings.latencyMs ?? 0;
  }

  latencyFor(r: RequestFacts): number {
    return matches(this.settings.match, r) ? (this.settings.latencyMs ?? 0) : 0;
  }

  private random(): number {
    // mulberry32
    this.rngState = (this.rngState + 0x6d2b79f5) | 0;
    let t = this.rngState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** The error to answer this request with, if any. */
  errorFor(r: RequestFacts): InjectedError | undefined {
    for (const shot of this.oneShots) {
      if (shot.count > 0 && matches(shot.match, r)) {
        shot.count--;
        this.oneShots = this.oneShots.filter((s) => s.count > 0);
        return { code: shot.code, retryAfterSeconds: shot.retryAfterSeconds };
      }
    }
    const rate = this.settings.errorRate ?? 0;
    if (rate > 0 && matches(this.settings.match, r) && this.random() < rate) {
      const code = this.settings.errorCode ?? 500;
      return { code, retryAfterSeconds: code === 429 ? (this.settings.retryAfterSeconds ?? 1) : undefined };
    }
    return undefined;
  }

  takeExpiredWatch(): boolean {
    if (this.goneWatches <= 0) return false;
    this.goneWatches--;
    return true;
  }

  takeConflict(): boolean {
    if (this.conflictUpdates <= 0) return false;
    this.conflictUpdates--;
    return true;
  }
}

/** Requests counted by verb, resource and user, for cost benchmarks ("0 writes per hour per node"). */
export class RequestCounters {
  private readonly counts = new Map<string, number>();

  record(verb: string, resource: string, user: string): void {
    const key = `${verb}\u0000${resource}\u0000${user}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Sum over the requests that match every given filter. */
  total(filter: { verb?: string | string[]; resource?: string; user?: string } = {}): number {
    const verbs = filter.verb === undefined ? undefined : Array.isArray(filter.verb) ? filter.verb : [filter.verb];
    let n = 0;
    for (const row of this.snapshot()) {
      if (verbs && !verbs.includes(row.verb)) continue;
      if (filter.resource !== undefined && row.resource !== filter.resource) continue;
      if (filter.user !== undefined && row.user !== filter.user) continue;
      n += row.count;
    }
    return n;
  }

  /** Writes (create, update, patch, delete, deletecollection) matching the filter. */
  writes(filter: { resource?: string; user?: string } = {}): number {
    return this.total({ ...filter, verb: ['create', 'update', 'patch', 'delete', 'deletecollection'] });
  }

  snapshot(): { verb: string; resource: string; user: string; count: number }[] {
    return [...this.counts.entries()].map(([key, count]) => {
      const [verb, resource, user] = key.split('\u0000');
      return { verb, resource, user, count };
    });
  }

  reset(): void {
    this.counts.clear();
  }
}
