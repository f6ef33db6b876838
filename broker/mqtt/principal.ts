import type { Transport } from '../../device-sdk/protocol/index.js';

/** Who is on the other end of an MQTT connection, decided once at CONNECT. */
export type Principal =
  | { kind: 'device'; deviceId: string }
  | { kind: 'integration'; tokenId: string }
  | { kind: 'claim'; serial: string; template: string }
  | { kind: 'anonymous' };

/** What the broker keeps on each aedes client for the life of its connection. */
export interface ConnectionInfo {
  principal: Principal;
  transport: Transport;
  remoteAddress: string;
  connectedAt: number;
}
