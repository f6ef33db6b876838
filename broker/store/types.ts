/**
 * The store layer's interface. Services depend on this, never on SQL. Every method is async so a
 * PostgreSQL implementation (multi-node deployments) can implement the same interface; the
 * SQLite implementation answers synchronously inside the promise.
 */
import type { HealthReport, JsonObject, Transport } from '../../device-sdk/protocol/index.js';
import type { ShadowQuery } from '../shadows/query.js';

export interface DeviceRecord {
  id: string;
  deviceClass: string | null;
  site: string | null;
  tags: string[];
  attributes: JsonObject;
  createdAt: string;
  updatedAt: string;
  firstConnectedAt: string | null;
  lastSeenAt: string | null;
  /** Set (true) while a device created by provisioning awaits an operator's approval (broker/certs). */
  pending?: true;
}

export interface NewDevice {
  id: string;
  deviceClass?: string | undefined;
  site?: string | undefined;
  tags?: string[] | undefined;
  attributes?: JsonObject | undefined;
  secretHash: Buffer;
}

export type DevicePatch = Partial<Pick<DeviceRecord, 'deviceClass' | 'site' | 'tags' | 'attributes'>>;

export interface DeviceListFilter {
  tag?: string | undefined;
  deviceClass?: string | undefined;
  site?: string | undefined;
  /** Restrict to these ids (e.g. the connected set when filtering on `online`). */
  ids?: string[] | undefined;
  /** Exclude these ids (e.g. the connected set when filtering on `offline`). */
  excludeIds?: string[] | undefined;
  everConnected?: boolean | undefined;
  /** Only devices pending approval (true), or none of them (false). */
  approvalPending?: boolean | undefined;
  /** Only devices whose newest unrevoked certificate expires before this ISO time (broker/certs). */
  certExpiresBefore?: string | undefined;
  /** Only devices whose shadow matches (the fleet query on shadow state). */
  shadow?: ShadowQuery | undefined;
  /** Return ids strictly greater than this one (cursor pagination by id). */
  afterId?: string | undefined;
  limit: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface DeviceRepo {
  /** Throws `BatonError('Conflict')` when the id exists. */
  create(device: NewDevice, now: Date): Promise<DeviceRecord>;
  get(id: string): Promise<DeviceRecord | undefined>;
  getSecretHash(id: string): Promise<Buffer | undefined>;
  setSecretHash(id: string, hash: Buffer, now: Date): Promise<boolean>;
  list(filter: DeviceListFilter): Promise<DeviceRecord[]>;
  update(id: string, patch: DevicePatch, now: Date): Promise<DeviceRecord | undefined>;
  delete(id: string): Promise<boolean>;
  /** Group-committed: resolves once the connect is on disk. */
  recordSeen(id: string, at: Date, connecting: boolean): Promise<void>;
  countBy(column: 'device_class' | 'site'): Promise<Record<string, number>>;
  count(filter?: { everConnected?: boolean; approvalPending?: boolean }): Promise<number>;
}

export type TokenRole = 'admin' | 'operator' | 'viewer' | 'integration';

export interface TokenRecord {
  id: string;
  name: string;
  role: TokenRole;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface TokenRepo {
  create(token: { id: string; name: string; role: TokenRole; hash: Buffer }, now: Date): Promise<TokenRecord>;
  findByHash(hash: Buffer): Promise<TokenRecord | undefined>;
  list(): Promise<TokenRecord[]>;
  delete(id: string): Promise<boolean>;
  count(): Promise<number>;
}

export interface SiteRecord {
  id: string;
  uplinkBytesPerSec: number;
  description: string | null;
  timeZone: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface SiteRepo {
  create(site: Omit<SiteRecord, 'createdAt' | 'updatedAt'>, now: Date): Promise<SiteRecord>;
  get(id: string): Promise<SiteRecord | undefined>;
  list(): Promise<SiteRecord[]>;
  update(id: string, patch: Partial<Omit<SiteRecord, 'id' | 'createdAt' | 'updatedAt'>>, now: Date): Promise<SiteRecord | undefined>;
}

export interface TelemetryRecord {
  id: number;
  deviceId: string;
  stream: string | null;
  receivedAt: string;
  data: JsonObject;
}

export interface TelemetryQuery {
  deviceId: string;
  stream?: string | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  /** Return rows with ids strictly below this one (newest first). */
  beforeId?: number | undefined;
  limit: number;
}

export interface TelemetryRepo {
  /** Group-committed: resolves once the row is on disk. */
  append(deviceId: string, stream: string | null, payloadJson: string, at: Date): Promise<void>;
  query(q: TelemetryQuery): Promise<TelemetryRecord[]>;
  prune(retention: { maxAgeMs: number; maxRowsPerDevice: number }, now: Date): Promise<number>;
}

export interface HealthRecord {
  receivedAt: string;
  report: HealthReport;
}

export interface HealthRepo {
  /** Group-committed; keeps the latest and a history bounded to `historyLimit` rows per device. */
  record(deviceId: string, report: HealthReport, at: Date): Promise<void>;
  latest(deviceId: string): Promise<HealthRecord | undefined>;
  history(deviceId: string, limit: number): Promise<HealthRecord[]>;
  /** Latest firmware version per device, for fleet summaries. */
  firmwareVersions(): Promise<Map<string, string>>;
}

export interface ConnectionEvent {
  deviceId: string;
  event: 'connected' | 'disconnected';
  at: Date;
  remoteAddress: string;
  transport: Transport;
  reason?: string | undefined;
}

export interface ConnectionRecord {
  event: 'connected' | 'disconnected';
  at: string;
  remoteAddress: string;
  transport: Transport;
  reason: string | null;
}

export interface ConnectionRepo {
  record(event: ConnectionEvent): Promise<void>;
  recent(deviceId: string, limit: number): Promise<ConnectionRecord[]>;
}

export interface Store {
  devices: DeviceRepo;
  tokens: TokenRepo;
  sites: SiteRepo;
  telemetry: TelemetryRepo;
  health: HealthRepo;
  connections: ConnectionRepo;
  /** True between open and close; `/healthz` reports it. */
  isOpen(): boolean;
  /** Commits every pending group-committed write. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
