/**
 * SQLite implementation of the certificate store (`broker/certs/store.ts`). Writes are rare (an
 * issue, a revocation, a registration) and run directly, durable before their promise resolves;
 * the CONNECT-time lookups are single primary-key reads.
 */
import type { Database } from 'better-sqlite3';
import type { CrlReason } from '../../../certs/index.js';
import { BatonError, type JsonObject } from '../../../device-sdk/protocol/index.js';
import type {
  CertificateRecord, CertificateRepo, CertificateStore, ClaimRecord, ClaimRepo, ProvisioningRepo, TemplateRecord, TemplateRepo,
} from '../../certs/store.js';
import { insertUnique } from './insert-unique.js';

interface CertificateRow {
  serial: string;
  kind: CertificateRecord['kind'];
  device_id: string | null;
  template: string | null;
  source: CertificateRecord['source'];
  fingerprint_sha256: string;
  not_before: string;
  not_after: string;
  issued_at: string;
  certificate_pem: string;
  revoked_at: string | null;
  revocation_reason: CrlReason | null;
}

const toCertificate = (r: CertificateRow): CertificateRecord => ({
  serial: r.serial,
  kind: r.kind,
  deviceId: r.device_id,
  template: r.template,
  source: r.source,
  fingerprintSha256: r.fingerprint_sha256,
  notBefore: r.not_before,
  notAfter: r.not_after,
  issuedAt: r.issued_at,
  certificatePem: r.certificate_pem,
  revokedAt: r.revoked_at,
  revocationReason: r.revocation_reason,
});

function createCertificateRepo(db: Database): CertificateRepo {
  const bySerial = db.prepare<[string], CertificateRow>('SELECT * FROM certificates WHERE serial = ?');
  const insert = db.prepare(
    `INSERT INTO certificates (serial, kind, device_id, template, source, fingerprint_sha256, not_before, not_after, issued_at, certificate_pem)
     VALUES (@serial, @kind, @deviceId, @template, @source, @fingerprintSha256, @notBefore, @notAfter, @issuedAt, @certificatePem)`,
  );
  const revoke = db.prepare('UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ? AND revoked_at IS NULL');
  const get = (serial: string) => {
    const row = bySerial.get(serial);
    return row ? toCertificate(row) : undefined;
  };
  return {
    async add(record) {
      insertUnique(() => insert.run(record), `certificate ${record.serial}`);
    },
    async get(serial) {
      return get(serial);
    },
    async listForDevice(deviceId) {
      const rows = db.prepare<[string], CertificateRow>(
        "SELECT * FROM certificates WHERE kind = 'device' AND device_id = ? ORDER BY issued_at DESC, serial",
      ).all(deviceId);
      return rows.map(toCertificate);
    },
    async revoke(serial, at, reason) {
      revoke.run(at.toISOString(), reason, serial);
      return get(serial);
    },
    async revokedUnexpired(now) {
      const rows = db.prepare<[string], Pick<CertificateRow, 'serial' | 'revoked_at' | 'revocation_reason'>>(
        'SELECT serial, revoked_at, revocation_reason FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ?',
      ).all(now.toISOString());
      return rows.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revoked_at!), reason: r.revocation_reason ?? 'unspecified' }));
    },
    async countDevicesExpiringBefore(cutoff) {
      const row = db.prepare<[string], { n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT device_id FROM certificates
          WHERE kind = 'device' AND revoked_at IS NULL AND device_id IN (SELECT id FROM devices)
          GROUP BY device_id HAVING MAX(not_after) <= ?)`,
      ).get(cutoff.toISOString());
      return row?.n ?? 0;
    },
  };
}

interface TemplateRow {
  name: string;
  device_classes: string | null;
  site: string | null;
  tags: string;
  attributes: string;
  allowed_serials: string | null;
  require_approval: number;
  created_at: string;
}

const toTemplate = (r: TemplateRow): TemplateRecord => ({
  name: r.name,
  deviceClasses: r.device_classes === null ? null : (JSON.parse(r.device_classes) as string[]),
  site: r.site,
  tags: JSON.parse(r.tags) as string[],
  attributes: JSON.parse(r.attributes) as JsonObject,
  allowedSerials: r.allowed_serials === null ? null : (JSON.parse(r.allowed_serials) as string[]),
  requireApproval: r.require_approval === 1,
  createdAt: r.created_at,
});

const jsonOrNull = (v: unknown[] | null) => (v === null ? null : JSON.stringify(v));

function createTemplateRepo(db: Database): TemplateRepo {
  const byName = db.prepare<[string], TemplateRow>('SELECT * FROM provisioning_templates WHERE name = ?');
  const insert = db.prepare(
    `INSERT INTO provisioning_templates (name, device_classes, site, tags, attributes, allowed_serials, require_approval, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return {
    async create(t) {
      insertUnique(
        () => insert.run(t.name, jsonOrNull(t.deviceClasses), t.site, JSON.stringify(t.tags), JSON.stringify(t.attributes),
          jsonOrNull(t.allowedSerials), t.requireApproval ? 1 : 0, t.createdAt),
        `provisioning template ${t.name}`,
      );
      return toTemplate(byName.get(t.name)!);
    },
    async get(name) {
      const row = byName.get(name);
      return row ? toTemplate(row) : undefined;
    },
    async list() {
      return db.prepare<[], TemplateRow>('SELECT * FROM provisioning_templates ORDER BY name').all().map(toTemplate);
    },
    async delete(name) {
      // Its claims go with it (ON DELETE CASCADE); the serials it registered stay registered.
      return db.prepare('DELETE FROM provisioning_templates WHERE name = ?').run(name).changes > 0;
    },
  };
}

interface ClaimRow {
  id: string;
  template: string;
  kind: ClaimRecord['kind'];
  certificate_serial: string | null;
  created_at: string;
  revoked_at: string | null;
}

const toClaim = (r: ClaimRow): ClaimRecord => ({
  id: r.id,
  template: r.template,
  kind: r.kind,
  certificateSerial: r.certificate_serial,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const claimColumns = 'id, template, kind, certificate_serial, created_at, revoked_at';

function createClaimRepo(db: Database): ClaimRepo {
  const byId = db.prepare<[string, string], ClaimRow>(`SELECT ${claimColumns} FROM provisioning_claims WHERE template = ? AND id = ?`);
  const one = (row: ClaimRow | undefined) => (row ? toClaim(row) : undefined);
  return {
    async create(c) {
      // The template may be deleted while a claim is being issued (a claim certificate is signed
      // asynchronously between the route's existence check and this insert): the insert then fails
      // its foreign key, which is the API's NotFound, not a 500.
      try {
        db.prepare(
          'INSERT INTO provisioning_claims (id, template, kind, token_hash, certificate_serial, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        ).run(c.id, c.template, c.kind, c.tokenHash, c.certificateSerial, c.createdAt);
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw err;
        throw new BatonError('NotFound', `provisioning template ${c.template} does not exist`);
      }
      return toClaim(byId.get(c.template, c.id)!);
    },
    async findByTokenHash(hash) {
      return one(db.prepare<[Buffer], ClaimRow>(
        `SELECT ${claimColumns} FROM provisioning_claims WHERE token_hash = ? AND revoked_at IS NULL`,
      ).get(hash));
    },
    async findByCertificate(serial) {
      return one(db.prepare<[string], ClaimRow>(`SELECT ${claimColumns} FROM provisioning_claims WHERE certificate_serial = ?`).get(serial));
    },
    async get(template, id) {
      return one(byId.get(template, id));
    },
    async list(template) {
      return db.prepare<[string], ClaimRow>(`SELECT ${claimColumns} FROM provisioning_claims WHERE template = ? ORDER BY created_at, id`)
        .all(template).map(toClaim);
    },
    async revoke(template, id, at) {
      db.prepare('UPDATE provisioning_claims SET revoked_at = ? WHERE template = ? AND id = ? AND revoked_at IS NULL')
        .run(at.toISOString(), template, id);
      return one(byId.get(template, id));
    },
  };
}

function createProvisioningRepo(db: Database): ProvisioningRepo {
  const approval = db.prepare<[string], { approval_pending: number }>('SELECT approval_pending FROM devices WHERE id = ?');
  return {
    async registration(serial) {
      const row = db.prepare<[string], { serial: string; template: string; device_id: string; registered_at: string }>(
        'SELECT * FROM provisioned_serials WHERE serial = ?',
      ).get(serial);
      return row && { serial: row.serial, template: row.template, deviceId: row.device_id, registeredAt: row.registered_at };
    },
    async addRegistration(r) {
      try {
        db.prepare('INSERT INTO provisioned_serials (serial, template, device_id, registered_at) VALUES (?, ?, ?, ?)')
          .run(r.serial, r.template, r.deviceId, r.registeredAt);
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw err;
        throw new BatonError('AlreadyProvisioned', `hardware serial ${r.serial} has already registered`);
      }
    },
    async removeRegistration(serial) {
      db.prepare('DELETE FROM provisioned_serials WHERE serial = ?').run(serial);
    },
    async approvalState(deviceId) {
      const row = approval.get(deviceId);
      if (!row) return undefined;
      return row.approval_pending === 1 ? 'pending' : 'active';
    },
    async setApprovalState(deviceId, state) {
      return db.prepare('UPDATE devices SET approval_pending = ? WHERE id = ?').run(state === 'pending' ? 1 : 0, deviceId).changes > 0;
    },
  };
}

export function createSqliteCertificateStore(db: Database): CertificateStore {
  return {
    certificates: createCertificateRepo(db),
    templates: createTemplateRepo(db),
    claims: createClaimRepo(db),
    provisioning: createProvisioningRepo(db),
  };
}
