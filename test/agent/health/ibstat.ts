/** Turns `ibstat` text into the RDMA ports sysfs would show: `State: Down` → `1: DOWN`, `Physical state: Disabled` → `3: Disabled`. */
export function ibstatPorts(
  text: string,
): { device: string; port: number; state: string; physState: string; linkLayer: string }[] {
  const STATE: Record<string, string> = {
    Down: '1: DOWN',
    Initializing: '2: INIT',
    Armed: '3: ARMED',
    Active: '4: ACTIVE',
  };
  const PHYS: Record<string, string> = {
    Sleep: '1: Sleep',
    Polling: '2: Polling',
    Disabled: '3: Disabled',
    LinkUp: '5: LinkUp',
  };
  const out: { device: string; port: number; state: string; physState: string; linkLayer: string }[] = [];
  let device = '';
  let current: (typeof out)[number] | undefined;
  for (const line of text.split('\n')) {
    const ca = /^CA '([^']+)'/.exec(line);
    if (ca) device = ca[1] ?? '';
    const port = /^\s+Port (\d+):/.exec(line);
    if (port) {
      current = { device, port: Number(port[1]), state: '', physState: '', linkLayer: '' };
      out.push(current);
    }
    const kv = /^\s+(State|Physical state|Link layer):\s*(\S+)/.exec(line);
    if (kv && current) {
      if (kv[1] === 'State') current.state = STATE[kv[2] ?? ''] ?? `0: ${kv[2]}`;
      else if (kv[1] === 'Physical state') current.physState = PHYS[kv[2] ?? ''] ?? `0: ${kv[2]}`;
      else current.linkLayer = kv[2] ?? '';
    }
  }
  return out;
}
