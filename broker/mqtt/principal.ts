import type { Transport } from '../../device-sdk/protocol/index.js';

/** Who is on the other end of an MQTT connection, decided once at CONNECT. */
export type Principal =
  | { kind: 'device'; deviceId: string }
  | { kind: 'integration'; tokenId: string }
  | { kind: 'claim'; serial: string; template: string; /** The claim credential (token or certificate) it logged in with. */ claimId: string }
  | { kind: 'anonymous' };

/**
 * What a connection logged in with. Revoking one (deleting an API token, rotating a device
 * secret, revoking a certificate or a claim credential, deleting a provisioning template) ends
 * every live connection that used it (`MqttBroker.disconnectCredential`). A connection may hold
 * several: a claim session holds its claim credential and its template.
 */
export type Credential =
  | { kind: 'token'; tokenId: string }
  | { kind: 'secret'; deviceId: string }
  | { kind: 'certificate'; serial: string }
  | { kind: 'claim'; claimId: string }
  | { kind: 'template'; name: string };

/** One string per credential, for indexing connections by it. */
export function credentialKey(credential: Credential): string {
  switch (credential.kind) {
    case 'token':
      return `token:${credential.tokenId}`;
    case 'secret':
      return `secret:${credential.deviceId}`;
    case 'certificate':
      return `certificate:${credential.serial}`;
    case 'claim':
      return `claim:${credential.claimId}`;
    case 'template':
      return `template:${credential.name}`;
  }
}

/** What the broker keeps on each aedes client for the life of its connection. */
export interface ConnectionInfo {
  principal: Principal;
  transport: Transport;
  remoteAddress: string;
  connectedAt: number;
}
