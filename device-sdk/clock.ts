/**
 * The SDK's only source of time: every timer (reconnect backoff, health reports, request
 * timeouts) is set through a `Clock`, so tests can count, inspect or drive them without sleeping.
 */
export interface Clock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Real timers. They are not `unref()`ed on purpose: while the client is open (for instance
 * waiting to reconnect) it should keep the device process alive; `close()` clears them all.
 */
export const systemClock: Clock = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
