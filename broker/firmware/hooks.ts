/**
 * Where later features narrow what firmware may do. Jobs do not exist yet: without them nothing
 * is in use and every device of the right class may fetch. A jobs feature passes its own hooks to
 * `firmwareFeature(…)` in service.ts; the firmware feature itself never learns about jobs.
 */
import type { FeatureContext } from '../feature.js';

export interface FirmwareHooks {
  /** True while a job (not yet terminal) references the firmware: `DELETE` is refused with `InUse`. */
  firmwareInUse(firmwareId: string): Promise<boolean>;
  /**
   * Whether a device whose class already matches may fetch this firmware's blocks; `Forbidden`
   * otherwise. Jobs will answer "only while it has a non-terminal execution of a job for it".
   */
  mayFetch(deviceId: string, firmwareId: string): Promise<boolean>;
  /**
   * Optional: bytes of a firmware (blocks and chunk table) handed to a device's socket, as they
   * go, e.g. for a job execution's `bytesDelivered`. Called often: batch any store writes.
   */
  delivered?(deviceId: string, firmwareId: string, bytes: number): void;
  /**
   * Optional, asked before every block: false holds the firmware's bytes back from the device
   * (a staged rollout's maintenance window is closed). Requests are then refused `RateLimited`,
   * which the SDK retries after a back-off without giving up.
   */
  mayStream?(deviceId: string, firmwareId: string): boolean;
  /** Optional: the device's own link rate (bytes/s) to pace its blocks to, e.g. from its reported `linkKbps`. */
  deviceBytesPerSec?(deviceId: string): number | undefined;
}

export type FirmwareHooksFactory = (ctx: FeatureContext) => Partial<FirmwareHooks>;

export const defaultFirmwareHooks: FirmwareHooks = {
  firmwareInUse: async () => false,
  mayFetch: async () => true,
};
