import { errorMessage } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { DiscoveredDevice, HealthReading } from '../discovery/inventory.js';
import type {
  Claim,
  NodePrepareResourceResponse,
  NodeUnprepareResourceResponse,
  PreparedDevice,
} from '../kubeletplugin/protos.js';
import { buildClaimSpec, type CdiDirectory, claimOfSpec, renderSpec, sharedDeviceNodes, specFileName } from './cdi.js';
import type { CheckpointData, CheckpointEntry, CheckpointStore } from './checkpoint.js';
import {
  claimRef,
  type PlannedDevice,
  planClaim,
  type ResourceClaimLike,
  validateClaimRequest,
  validateClaimUid,
} from './claims.js';

/** Reads ResourceClaims from the API. Resolves undefined when the claim does not exist (404); throws otherwise. */
export interface ClaimReader {
  get(namespace: string, name: string): Promise<ResourceClaimLike | undefined>;
}

export interface PreparerOptions {
  driver: string;
  nodeName: string;
  poolName: string;
  cdi: CdiDirectory;
  checkpoint: CheckpointStore;
  claims: ClaimReader;
  /** this node's devices now (discovery's latest inventory) */
  devices: () => ReadonlyMap<string, DiscoveredDevice>;
  health: (device: string) => HealthReading | undefined;
  /** legacy device names → today's names (legacy-names.ts) */
  aliases?: () => ReadonlyMap<string, string>;
  devRoot?: string;
  log: Logger;
  /** API reads in flight at once during one call */
  concurrency?: number;
  /** reports prepared claims' devices in the claims' `status.devices` (claim-status.ts); calls must not throw */
  status?: ClaimStatusReporter;
}

/** Where the preparer tells what it prepared and unprepared, after the fact and without waiting. */
interface ClaimStatusReporter {
  prepared(claim: Claim, devices: readonly PlannedDevice[]): Promise<void>;
  unprepared(claim: Claim): Promise<void>;
}

export interface ReconcileReport {
  checkpoint: 'missing' | 'loaded' | 'corrupt';
  /** spec files with no record whose claim is gone (or unreadable) */
  orphanSpecsRemoved: string[];
  /** spec files with no record whose claim the API still has allocated here: recorded as prepared */
  orphanSpecsAdopted: string[];
  /** spec files with no record that stay because the API could not be asked */
  orphanSpecsKept: string[];
  tempFilesRemoved: string[];
  specsRewritten: string[];
  /** claims dropped because the API says they are gone (or have another UID) */
  claimsDropped: string[];
  /** API reads that failed: those claims are kept */
  apiErrors: number;
}

/**
 * The node service's state machine. Order of effects, so that kill -9 at any instant converges on the next start:
 * prepare writes CDI specs, then the checkpoint, then replies (a spec without a checkpoint entry is an orphan the next
 * start removes; the kubelet retries the unanswered prepare). Unprepare writes the checkpoint first, then removes the
 * specs (a spec left behind is again an orphan). Calls are serialised: the checkpoint is one file.
 */
export class ClaimPreparer {
  private state: CheckpointData | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PreparerOptions) {}

  /** Brings checkpoint, CDI directory and API into agreement. Run once before serving. */
  reconcile(): Promise<ReconcileReport> {
    return this.serialised(() => this.reconcileNow());
  }

  prepare(claims: Claim[]): Promise<Record<string, NodePrepareResourceResponse>> {
    return this.serialised(() => this.prepareNow(claims));
  }

  unprepare(claims: Claim[]): Promise<Record<string, NodeUnprepareResourceResponse>> {
    return this.serialised(() => this.unprepareNow(claims));
  }

  /** Prepared claims as recorded (a copy). */
  prepared(): CheckpointEntry[] {
    return Object.values(this.state?.claims ?? {}).map((entry) => structuredClone(entry));
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The record as on disk now: read again before every change, because during a rolling update an overlapping
   * instance of the plugin may have written it since.
   */
  private async current(): Promise<CheckpointData> {
    const load = await this.options.checkpoint.load();
    if (load.state === 'corrupt') {
      this.options.log.error({ movedTo: load.movedTo, error: load.error }, 'checkpoint is damaged: moved aside');
    }
    // A damaged or vanished file: keep what this process knows rather than forget every prepared claim.
    this.state = load.state === 'loaded' || !this.state ? load.data : this.state;
    return this.state;
  }

  private async reconcileNow(): Promise<ReconcileReport> {
    const { cdi, checkpoint, log } = this.options;
    const load = await checkpoint.load();
    if (load.state === 'corrupt') {
      log.error(
        { path: checkpoint.path, movedTo: load.movedTo, error: load.error },
        'checkpoint is damaged: moved aside; rebuilding the record from the CDI specs and the API',
      );
    }
    if (load.state === 'loaded' && load.migratedFrom !== undefined) {
      log.info({ path: checkpoint.path, from: load.migratedFrom }, 'checkpoint of an older agent migrated');
    }
    const claims = { ...load.data.claims };
    const report: ReconcileReport = {
      checkpoint: load.state,
      orphanSpecsRemoved: [],
      orphanSpecsAdopted: [],
      orphanSpecsKept: [],
      tempFilesRemoved: [],
      specsRewritten: [],
      claimsDropped: [],
      apiErrors: 0,
    };
    const { specs, temps } = await cdi.list();
    for (const temp of temps) {
      await cdi.remove(temp);
      report.tempFilesRemoved.push(temp);
    }

    // Recorded claims the API no longer has (or has under another UID) are over: nobody will ask to unprepare them.
    const entries = Object.values(claims);
    const verdicts = await mapLimit(entries, this.options.concurrency ?? 16, async (entry) => {
      try {
        const apiClaim = await this.options.claims.get(entry.namespace, entry.name);
        return apiClaim?.metadata?.uid === entry.uid ? 'keep' : 'drop';
      } catch (error) {
        log.warn(
          { claim: `${entry.namespace}/${entry.name}`, error: String(error) },
          'cannot check claim in the API; keeping it',
        );
        report.apiErrors++;
        return 'keep';
      }
    });
    entries.forEach((entry, index) => {
      if (verdicts[index] !== 'drop') return;
      delete claims[entry.uid];
      report.claimsDropped.push(`${entry.namespace}/${entry.name} (${entry.uid})`);
    });

    // Spec files without a record: a prepare cut short after writing its spec, an unprepare cut short before removing
    // it, or a lost checkpoint. A claim the API still has allocated here is adopted (prepare is deterministic, so the
    // record is what that prepare would have written, and the kubelet's repeated call finds it); anything else goes.
    // When the API cannot be asked, the file stays: deleting the spec of a running pod is worse than keeping a stray.
    const orphans = [...specs].filter(([uid, file]) => claims[uid]?.specFile !== file);
    const adopted = await mapLimit(orphans, this.options.concurrency ?? 16, ([uid, file]) => this.adopt(uid, file));
    orphans.forEach(([, file], index) => {
      const outcome = adopted[index];
      if (outcome === 'remove') report.orphanSpecsRemoved.push(file);
      else if (outcome === 'keep') report.orphanSpecsKept.push(file);
      else if (outcome) {
        claims[outcome.uid] = outcome;
        report.orphanSpecsAdopted.push(file);
      }
    });

    const next: CheckpointData = { ...load.data, claims };
    if (load.state !== 'loaded' || report.claimsDropped.length > 0 || report.orphanSpecsAdopted.length > 0) {
      await checkpoint.save(next);
    }
    this.state = next;
    for (const file of report.orphanSpecsRemoved) await cdi.remove(file);
    for (const entry of entries) if (!claims[entry.uid]) await cdi.remove(entry.specFile);
    for (const entry of Object.values(claims)) {
      if ((await cdi.read(entry.specFile)) !== entry.specContent) {
        await cdi.write(entry.specFile, entry.specContent);
        report.specsRewritten.push(entry.specFile);
      }
    }
    log.info(report, 'reconciled checkpoint, CDI directory and API');
    return report;
  }

  /** What to do with a spec file that has no record (see reconcileNow). */
  private async adopt(uid: string, file: string): Promise<CheckpointEntry | 'remove' | 'keep'> {
    const ref = claimOfSpec(await this.options.cdi.read(file));
    if (!ref) return 'remove';
    const claim: Claim = { uid, namespace: ref.namespace, name: ref.name };
    let apiClaim: ResourceClaimLike | undefined;
    try {
      apiClaim = await this.options.claims.get(claim.namespace, claim.name);
    } catch {
      return 'keep';
    }
    // Health is not asked: the claim was prepared before, and refusing it now would not free the device.
    const plan = planClaim(
      claim,
      apiClaim,
      this.planContext(() => undefined),
    );
    if (!plan.ok || plan.devices.length === 0) return 'remove';
    const entry = await this.entryFor(claim, plan.devices);
    return entry.specFile === file ? entry : 'remove';
  }

  private planContext(health: PreparerOptions['health']) {
    return {
      driver: this.options.driver,
      nodeName: this.options.nodeName,
      poolName: this.options.poolName,
      devices: this.options.devices(),
      health,
      aliases: this.options.aliases?.() ?? new Map<string, string>(),
    };
  }

  private async entryFor(claim: Claim, planned: PlannedDevice[]): Promise<CheckpointEntry> {
    const sharedNodes = await sharedDeviceNodes(
      planned.map((entry) => entry.device),
      this.options.devRoot,
    );
    const built = buildClaimSpec(claim, planned, { devRoot: this.options.devRoot, sharedNodes });
    const devices: PreparedDevice[] = planned.map((entry, index) => {
      const device: PreparedDevice = {
        requestNames: entry.requestNames,
        poolName: this.options.poolName,
        deviceName: entry.allocatedName,
        cdiDeviceIds: [built.cdiIds[index] as string],
      };
      if (entry.shareId) device.shareId = entry.shareId;
      return device;
    });
    const none = planned.length === 0;
    return {
      uid: claim.uid,
      namespace: claim.namespace,
      name: claim.name,
      devices,
      // No device of ours: no spec file (CDI rejects a spec without devices).
      specFile: none ? '' : built.fileName,
      specContent: none ? '' : renderSpec(built.spec),
    };
  }

  private async prepareNow(claims: Claim[]): Promise<Record<string, NodePrepareResourceResponse>> {
    const { cdi, checkpoint, log } = this.options;
    const data = await this.current();
    const responses: Record<string, NodePrepareResourceResponse> = {};
    const fresh: Claim[] = [];
    const seen = new Set<string>();
    for (const claim of claims) {
      if (seen.has(claim.uid)) continue;
      seen.add(claim.uid);
      const invalid = validateClaimRequest(claim);
      if (invalid) {
        responses[claim.uid] = { devices: [], error: invalid };
        continue;
      }
      const known = data.claims[claim.uid];
      if (known) {
        // Idempotent: the same answer as the first time, and the spec is put back if someone removed it.
        if ((await cdi.read(known.specFile)) !== known.specContent) await cdi.write(known.specFile, known.specContent);
        responses[claim.uid] = { devices: known.devices.map((device) => ({ ...device })), error: '' };
        continue;
      }
      fresh.push(claim);
    }

    const reads = await mapLimit(fresh, this.options.concurrency ?? 16, async (claim) => {
      try {
        return { claim, apiClaim: await this.options.claims.get(claim.namespace, claim.name) };
      } catch (error) {
        return {
          claim,
          error: `cannot read ResourceClaim ${claimRef(claim)} from the API: ${errorText(error)}; the kubelet will retry`,
        };
      }
    });

    const newEntries: CheckpointEntry[] = [];
    const plannedByUid = new Map<string, { claim: Claim; devices: PlannedDevice[] }>();
    for (const read of reads) {
      const { claim } = read;
      if ('error' in read && read.error) {
        responses[claim.uid] = { devices: [], error: read.error };
        continue;
      }
      const plan = planClaim(
        claim,
        'apiClaim' in read ? read.apiClaim : undefined,
        this.planContext(this.options.health),
      );
      if (!plan.ok) {
        responses[claim.uid] = { devices: [], error: plan.error };
        continue;
      }
      newEntries.push(await this.entryFor(claim, plan.devices));
      plannedByUid.set(claim.uid, { claim, devices: plan.devices });
    }

    if (newEntries.length > 0) {
      const next: CheckpointData = { ...data, claims: { ...data.claims } };
      for (const entry of newEntries) next.claims[entry.uid] = entry;
      try {
        for (const entry of newEntries) await cdi.write(entry.specFile, entry.specContent);
        await checkpoint.save(next);
      } catch (error) {
        // Nothing recorded: take back the specs (best effort; the next start removes any that stay).
        for (const entry of newEntries) await cdi.remove(entry.specFile).catch(() => undefined);
        throw error;
      }
      this.state = next;
      for (const entry of newEntries) {
        responses[entry.uid] = { devices: entry.devices.map((device) => ({ ...device })), error: '' };
        log.info(
          {
            claim: `${entry.namespace}/${entry.name}`,
            uid: entry.uid,
            devices: entry.devices.map((d) => d.deviceName),
          },
          'prepared claim',
        );
        const planned = plannedByUid.get(entry.uid);
        if (planned && planned.devices.length > 0)
          this.options.status?.prepared(planned.claim, planned.devices).catch(() => undefined);
      }
    }
    for (const [uid, response] of Object.entries(responses)) {
      if (response.error) log.warn({ uid, error: response.error }, 'prepare failed for claim');
    }
    return responses;
  }

  private async unprepareNow(claims: Claim[]): Promise<Record<string, NodeUnprepareResourceResponse>> {
    const { cdi, checkpoint, log } = this.options;
    const data = await this.current();
    const responses: Record<string, NodeUnprepareResourceResponse> = {};
    const known: CheckpointEntry[] = [];
    const strays: string[] = [];
    for (const claim of claims) {
      if (claim.uid in responses) continue;
      const invalid = validateClaimUid(claim);
      if (invalid) {
        responses[claim.uid] = { error: invalid };
        continue;
      }
      responses[claim.uid] = { error: '' };
      const entry = data.claims[claim.uid];
      if (entry) known.push(entry);
      else strays.push(specFileName(claim.uid));
    }
    // Never prepared as far as the record goes; a spec of a prepare that failed halfway may still lie there.
    for (const file of strays) if ((await cdi.read(file)) !== undefined) await cdi.remove(file);
    if (known.length > 0) {
      const next: CheckpointData = { ...data, claims: { ...data.claims } };
      for (const entry of known) delete next.claims[entry.uid];
      await checkpoint.save(next);
      this.state = next;
      for (const entry of known) {
        await cdi.remove(entry.specFile);
        log.info({ claim: `${entry.namespace}/${entry.name}`, uid: entry.uid }, 'unprepared claim');
        if (entry.devices.length > 0)
          this.options.status
            ?.unprepared({ uid: entry.uid, namespace: entry.namespace, name: entry.name })
            .catch(() => undefined);
      }
    }
    return responses;
  }
}

function errorText(error: unknown): string {
  return errorMessage(error);
}

/** Maps with at most `limit` promises in flight; results keep the input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}
