/**
 * Helpers for the firmware tests: raw image uploads, devices of a class with a download link,
 * the trusted keys as devices pin them, and the `baton` CLI as a child process.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterEach } from 'vitest';
import type { DownloadOptions } from '../../device-sdk/firmware/download.js';
import type { FirmwareLink } from '../../device-sdk/firmware/link.js';
import type { TrustedKey } from '../../device-sdk/firmware/manifest.js';
import type { ConfigInput } from '../../broker/config.js';
import { ADMIN_TOKEN, eventually, startBaton, type ApiResponse, type TestBaton } from './service.js';

export const BATON_BIN = fileURLToPath(new URL('../../bin/baton.js', import.meta.url));

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A temp dir removed after the test. */
export function tempDir(prefix = 'baton-fw-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export const randomImage = (size: number): Buffer => randomBytes(size);

/** `POST /api/v1/firmware` with the raw image; `manifest` goes in X-Baton-Manifest. */
export async function uploadImage(
  baton: TestBaton,
  image: Uint8Array,
  query: Record<string, string | number>,
  opts: { manifest?: string; token?: string } = {},
): Promise<ApiResponse<any>> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  const res = await fetch(`${baton.httpUrl}/api/v1/firmware?${qs}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${opts.token ?? ADMIN_TOKEN}`,
      'content-type': 'application/octet-stream',
      ...(opts.manifest ? { 'x-baton-manifest': opts.manifest } : {}),
    },
    body: image,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** The signed manifest bytes as served. */
export async function signedManifest(baton: TestBaton, firmwareId: string): Promise<string> {
  const res = await fetch(`${baton.httpUrl}/api/v1/firmware/${firmwareId}/manifest`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (res.status !== 200) throw new Error(`manifest ${firmwareId}: ${res.status}`);
  return res.text();
}

/** The trusted keys exactly as a device would pin them. */
export async function trustedKeys(baton: TestBaton): Promise<TrustedKey[]> {
  const res = await baton.api('GET', '/api/v1/firmware/keys');
  return res.body.items.map(({ keyId, algorithm, publicKeyPem }: TrustedKey) => ({ keyId, algorithm, publicKeyPem }));
}

/** A registered, connected device of `deviceClass`. */
export async function deviceOfClass(baton: TestBaton, id: string, deviceClass: string, opts: IClientOptions & { site?: string } = {}): Promise<{ id: string; secret: string; client: MqttClient }> {
  const { site, ...mqttOpts } = opts;
  const device = await baton.createDevice(id, { deviceClass, ...(site ? { site } : {}) });
  return { ...device, client: await baton.connectDevice(device, mqttOpts) };
}

/**
 * Entitles devices to fetch a firmware: a firmware job for them, with every execution admitted
 * (the jobs feature's `mayFetch` hook allows a device only while it has one). Returns the job id.
 */
export async function entitle(baton: TestBaton, firmwareId: string, devices: string[]): Promise<string> {
  const job = await baton.api('POST', '/api/v1/jobs', { type: 'firmware', firmwareId, targets: { devices } });
  if (job.status !== 201) throw new Error(`entitle: ${job.status} ${JSON.stringify(job.body)}`);
  await eventually(async () => {
    const { body } = await baton.api('GET', `/api/v1/jobs/${job.body.id}/executions?limit=1000`);
    return body.items.length === devices.length && body.items.every((e: { admittedAt: string | null }) => e.admittedAt) ? true : undefined;
  });
  return job.body.id as string;
}

/** Runs `node bin/baton.js …`; resolves with its exit code and output. */
export async function runBatonCli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BATON_BIN, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * A broker with one firmware of `blocks` × `chunkSize` random bytes for class `sensor`, a
 * connected device `dev-1` of that class entitled to it by a job, its signed manifest, and
 * download options for it.
 */
export async function firmwareFixture(
  blocks = 200,
  chunkSize = 256,
  opts: { config?: ConfigInput; mqtt?: IClientOptions; site?: { id: string; uplinkBytesPerSec: number } } = {},
) {
  const baton = await startBaton(opts.config);
  const image = randomImage(blocks * chunkSize);
  const { body: firmware } = await uploadImage(baton, image, { deviceClass: 'sensor', version: '1.0.0', chunkSize });
  if (opts.site) await baton.api('POST', '/api/v1/sites', opts.site);
  const device = await deviceOfClass(baton, 'dev-1', 'sensor', { ...opts.mqtt, ...(opts.site ? { site: opts.site.id } : {}) });
  const jobId = await entitle(baton, firmware.id, ['dev-1']);
  const keys = await trustedKeys(baton);
  const dir = tempDir();
  const options = (link: FirmwareLink, extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
    link,
    deviceId: 'dev-1',
    trustedKeys: keys,
    deviceClass: 'sensor',
    freeBytes: 1 << 30,
    statePath: join(dir, 'firmware-state.json'),
    dir: join(dir, 'slot'),
    timing: { stallTimeoutMs: 2000 },
    ...extra,
  });
  return { baton, image, firmware, device, jobId, manifest: await signedManifest(baton, firmware.id), options, dir };
}
