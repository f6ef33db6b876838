/** Shared arrangements for the certs unit tests; each helper owns its teardown. */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished } from 'vitest';
import { BatonError, type ErrorCode } from '../device-sdk/protocol/errors.js';
import { openFleetCa, type FleetCa, type FleetCaOptions } from './fleet-ca.js';

/** The fake clock's epoch. Far from the real date on purpose: nothing may read the real clock. */
export const T0 = new Date('2031-03-01T12:00:00Z');
export const afterDays = (days: number, from = T0): Date => new Date(from.getTime() + days * 86_400_000);

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-certs-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function openTestCa(options: Partial<FleetCaOptions> = {}): Promise<FleetCa> {
  return openFleetCa({ dir: join(tempDir(), 'ca'), clock: () => T0, ...options });
}

export const rsaKey = (modulusLength: number): KeyObject =>
  generateKeyPairSync('rsa', { modulusLength }).privateKey;
export const ecKey = (namedCurve: string): KeyObject => generateKeyPairSync('ec', { namedCurve }).privateKey;

/** Runs the real openssl binary; never throws, so tests can assert a refusal too. */
export function openssl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Writes each file into a fresh temp dir; returns the path of each by name. */
export function writeFiles<K extends string>(files: Record<K, string | Uint8Array>): Record<K, string> {
  const dir = tempDir();
  const entries = Object.entries<string | Uint8Array>(files).map(([name, content]) => {
    writeFileSync(join(dir, name), content);
    return [name, join(dir, name)];
  });
  return Object.fromEntries(entries) as Record<K, string>;
}

/** `openssl verify` of `certPem` against `caPem` at a given time (default: one hour after T0). */
export function opensslVerify(caPem: string, certPem: string, extra: string[] = [], at = afterDays(1 / 24)) {
  const paths = writeFiles({ 'ca.pem': caPem, 'cert.pem': certPem });
  const attime = String(Math.floor(at.getTime() / 1000));
  return openssl(['verify', '-attime', attime, '-CAfile', paths['ca.pem'], ...extra, paths['cert.pem']]);
}

function expectBatonError(err: unknown, code: ErrorCode): void {
  expect(err).toBeInstanceOf(BatonError);
  expect((err as BatonError).code).toBe(code);
}

/** Asserts that `promise` rejects with a BatonError carrying `code`. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  expectBatonError(await promise.then(() => undefined, (err: unknown) => err), code);
}

export function expectCodeSync(run: () => unknown, code: ErrorCode): void {
  try {
    run();
  } catch (err) {
    return expectBatonError(err, code);
  }
  expect.fail(`expected a BatonError ${code}`);
}
