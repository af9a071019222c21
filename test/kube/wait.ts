/** Polls until `check` returns a value other than undefined/false, or fails with what it last saw. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
  context?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${context ? `: ${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
