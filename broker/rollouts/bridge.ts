/**
 * How the firmware feature's hooks reach the rollouts: the firmware feature is built before the
 * jobs feature (service.ts), so its hooks look the rollouts up when they are called, by the store
 * both features share. One service, one store, one `Rollouts`.
 */
import type { Rollouts } from './rollouts.js';

const byStore = new WeakMap<object, Rollouts>();

export function registerRollouts(store: object, rollouts: Rollouts): void {
  byStore.set(store, rollouts);
}

export function rolloutsOf(store: object): Rollouts | undefined {
  return byStore.get(store);
}
