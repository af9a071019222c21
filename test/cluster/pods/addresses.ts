/**
 * Pod IPs: each pod gets its own loopback address (127.0.0.0/8 all routes to lo on Linux), so pods on one machine
 * can use the same ports, as pods of a cluster can. One pool is shared by every node of a test cluster.
 * The third octet is drawn at random so that two clusters on the same machine rarely meet.
 */
export class AddressPool {
  private readonly inUse = new Set<string>();
  private next = 10;
  private readonly prefix: string;

  constructor(prefix?: string) {
    this.prefix = prefix ?? `127.42.${1 + Math.floor(Math.random() * 250)}`;
  }

  allocate(): string {
    // Addresses are not reused while others are free: a recreated pod gets a new IP, as in a cluster.
    for (let tries = 0; tries < 245; tries++) {
      const candidate = `${this.prefix}.${this.next}`;
      this.next = this.next >= 254 ? 10 : this.next + 1;
      if (!this.inUse.has(candidate)) {
        this.inUse.add(candidate);
        return candidate;
      }
    }
    throw new Error(`no free pod address in ${this.prefix}.0/24`);
  }

  release(address: string): void {
    this.inUse.delete(address);
  }
}
