/**
 * The aedes instance of a service a test builds (the service does not expose it), for tests that
 * must look inside the broker (connection internals, takeover races).
 */
import { Aedes } from 'aedes';
import { vi } from 'vitest';

/** Records every aedes broker created from now on; `vi.restoreAllMocks()` undoes it. */
export function captureAedes(): Aedes[] {
  const created: Aedes[] = [];
  const original = Aedes.createBroker.bind(Aedes);
  vi.spyOn(Aedes, 'createBroker').mockImplementation(async (opts) => {
    const aedes = await original(opts);
    created.push(aedes);
    return aedes;
  });
  return created;
}
