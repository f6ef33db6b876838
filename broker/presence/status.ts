import type { DeviceStatus } from '../../device-sdk/protocol/index.js';

export interface LiveState {
  /** Last PUBLISH from the device (or its connect); PINGREQs do not count. */
  lastActivityMs: number;
  /** The interval the device last reported in its health, if any. */
  intervalS: number | undefined;
}

/**
 * A device is `stale` when it is connected but its messages stopped for 3 × its reporting
 * interval, whatever its MQTT keepalive: a wedged application behind a live TCP stack still
 * answers PINGREQs.
 */
export function deviceStatus(
  live: LiveState | undefined,
  everConnected: boolean,
  nowMs: number,
  defaultIntervalS: number,
): DeviceStatus {
  if (live === undefined) return everConnected ? 'offline' : 'never-connected';
  const intervalMs = (live.intervalS ?? defaultIntervalS) * 1000;
  return nowMs - live.lastActivityMs > 3 * intervalMs ? 'stale' : 'online';
}
