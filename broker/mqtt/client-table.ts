/**
 * aedes 1.2.0 keeps its connections by client id (`aedes.clients`) and a takeover
 * [MQTT-3.1.4-2] happens in `registerClient`, after the new connection authenticated. Two gaps
 * there, both hit when a connection dies between authenticating and registering:
 *
 * - `Client#close` unregisters by id alone (`if (broker.clients[id] && _authorized)`), so a
 *   connection that authenticated and died before registering removes the *registered*
 *   connection of its client id from the table and reports 'clientDisconnect' for itself. The
 *   registered one's own disconnect is then never reported (its device looks online for ever),
 *   and the next connection with that id does not close it.
 * - `registerClient` does not check that the connection is still open: one that died on its way
 *   still closes the live connection it takes over, and is then registered (and reported) dead.
 *
 * `guardClientTable` patches both on the instance: only the registered connection of an id is
 * unregistered (one replaced while it was closing still has its disconnect reported), and a
 * closed connection neither takes over nor registers. It also tells which connections were
 * closed by a takeover, for the disconnect reason.
 */
import type { Aedes, Client } from 'aedes';

interface AedesInternals {
  clients: Record<string, Client | undefined>;
  connectedClients: number;
  registerClient(client: Client): void;
  unregisterClient(client: Client): void;
  _finishRegisterClient(client: Client): void;
}

export interface ClientTable {
  /** Whether aedes closed `client` because a newer connection with its client id registered. */
  tookOver(client: Client): boolean;
}

export function guardClientTable(aedes: Aedes): ClientTable {
  const broker = aedes as unknown as AedesInternals;
  const replaced = new WeakSet<Client>();
  const registered = new WeakSet<Client>();
  const unregister = broker.unregisterClient?.bind(aedes);
  const finish = broker._finishRegisterClient?.bind(aedes);
  if (typeof unregister !== 'function' || typeof finish !== 'function') throw new Error('aedes internals changed: check client-table.ts');
  const finishRegister = (client: Client) => {
    registered.add(client);
    finish(client);
  };

  broker.unregisterClient = (client) => {
    if (broker.clients[client.id] === client) {
      registered.delete(client);
      return unregister(client);
    }
    // Registered, then replaced in the table while it was closing on its own: report its
    // disconnect (and count it gone) without touching the entry of its successor.
    if (!registered.delete(client)) return;
    broker.connectedClients--;
    aedes.emit('clientDisconnect', client);
  };
  broker.registerClient = (client) => {
    if (client.closed) return;
    const previous = broker.clients[client.id];
    if (!previous) return finishRegister(client);
    if (!previous.closed) replaced.add(previous);
    previous.close(() => {
      if (!client.closed) finishRegister(client);
    });
  };
  return { tookOver: (client) => replaced.has(client) };
}
