import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` every 25 ms until it returns a truthy value, which it returns; throws `timed out waiting for
 * <what>` after `timeoutMs`. For state another process or the event loop changes (runs, leaders, files).
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
