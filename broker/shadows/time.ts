/**
 * Shadow timestamps are epoch seconds, as in AWS IoT Device Shadow documents. The core takes the
 * injected clock's reading in milliseconds (what `Date.now()` and Baton's clocks return) and
 * converts it once, here.
 */
export const toEpochSeconds = (nowMs: number): number => Math.floor(nowMs / 1000);
