/**
 * `baton firmware …`: offline key generation and manifest signing, so a release key can live on
 * an air-gapped machine and the broker only ever holds public keys for it (TUF offline roles).
 *
 *   baton firmware keygen --out k.pem [--alg ES256|EdDSA]
 *   baton firmware sign --key k.pem --device-class c --version v [--sequence n]
 *       [--security-counter n] [--expires-at iso] [--chunk-size n] [--out file] image.bin
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isBatonError } from '../device-sdk/protocol/errors.js';
import {
  DEFAULT_CHUNK_SIZE,
  FIRMWARE_ALGORITHMS,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  type FirmwareAlgorithm,
} from '../device-sdk/firmware/manifest.js';
import { digestFile } from './chunk-table.js';
import { buildManifest } from './manifest.js';
import { signManifest, signingKeyFromPem, writeNewSigningKey } from './signing-keys.js';

export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** Wall clock, ms since epoch: manifests carry real dates. */
  now: () => number;
}

const defaultIo: CliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  now: Date.now,
};

/** A bounded default lifetime, as TUF gives its targets metadata; override with --expires-at. */
const DEFAULT_LIFETIME_MS = 90 * 24 * 3600 * 1000;

const USAGE = `usage:
  baton firmware keygen --out k.pem [--alg ES256|EdDSA]
  baton firmware sign --key k.pem --device-class c --version v [--sequence n] [--security-counter n]
                      [--expires-at iso] [--chunk-size n] [--out file] image.bin`;

class UsageError extends Error {}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string') throw new UsageError(`--${name} is required`);
  return value;
}

function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^(0|[1-9][0-9]*)$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${name} must be a non-negative integer`);
  }
  return Number(value);
}

function chunkSizeOf(value: string | undefined): number {
  const chunkSize = integer(value, 'chunk-size', DEFAULT_CHUNK_SIZE);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new UsageError(`--chunk-size must be ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
  }
  return chunkSize;
}

function date(value: string | undefined, fallback: number): Date {
  const ms = value === undefined ? fallback : Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError('--expires-at must be an ISO date-time');
  return new Date(ms);
}

async function keygen(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, alg: { type: 'string' } } });
  const algorithm = (values.alg ?? 'ES256') as FirmwareAlgorithm;
  if (!FIRMWARE_ALGORITHMS.includes(algorithm)) throw new UsageError('--alg must be ES256 or EdDSA');
  const key = await writeNewSigningKey(required(values, 'out'), algorithm);
  io.stdout(`keyId: ${key.keyId}`);
  io.stdout(`algorithm: ${key.algorithm}`);
  io.stdout(key.publicKeyPem.trimEnd());
}

const signOptions = {
  key: { type: 'string' },
  'device-class': { type: 'string' },
  version: { type: 'string' },
  sequence: { type: 'string' },
  'security-counter': { type: 'string' },
  'expires-at': { type: 'string' },
  'chunk-size': { type: 'string' },
  out: { type: 'string' },
} as const;

interface SignRequest {
  keyPath: string;
  image: string;
  out: string;
  deviceClass: string;
  version: string;
  sequence: number;
  securityCounter: number;
  chunkSize: number;
  issuedAt: Date;
  expiresAt: Date;
}

/** Every usage error is found here, before any file is touched. */
function parseSignArgs(args: string[], now: number): SignRequest {
  const { values, positionals } = parseArgs({ args, options: signOptions, allowPositionals: true });
  const [image, ...extra] = positionals;
  if (image === undefined || extra.length > 0) throw new UsageError('exactly one image file is required');
  return {
    keyPath: required(values, 'key'),
    image,
    out: values.out ?? `${image}.manifest.jws`,
    deviceClass: required(values, 'device-class'),
    version: required(values, 'version'),
    // Seconds since the epoch rise with every release from a signer with a sane clock.
    sequence: integer(values.sequence, 'sequence', Math.floor(now / 1000)),
    securityCounter: integer(values['security-counter'], 'security-counter', 0),
    chunkSize: chunkSizeOf(values['chunk-size']),
    issuedAt: new Date(now),
    expiresAt: date(values['expires-at'], now + DEFAULT_LIFETIME_MS),
  };
}

async function sign(args: string[], io: CliIo): Promise<void> {
  const request = parseSignArgs(args, io.now());
  const key = signingKeyFromPem(await readFile(request.keyPath, 'utf8'));
  const manifest = buildManifest({
    ...request,
    image: await digestFile(request.image, request.chunkSize),
    keyId: key.keyId,
  });
  await writeFile(request.out, await signManifest(manifest, key));
  io.stdout(`firmwareId: ${manifest.firmwareId}`);
  io.stdout(`sequence: ${manifest.sequence}, keyId: ${manifest.keyId}, manifest: ${request.out}`);
}

const commands: Record<string, (args: string[], io: CliIo) => Promise<void>> = {
  'firmware keygen': keygen,
  'firmware sign': sign,
};

/** Runs `baton <argv…>` (argv without node and script); returns the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const command = commands[argv.slice(0, 2).join(' ')];
  try {
    if (!command) throw new UsageError('unknown command');
    await command(argv.slice(2), io);
    return 0;
  } catch (err) {
    return report(err, io);
  }
}

function report(err: unknown, io: CliIo): number {
  if (err instanceof UsageError || String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
    io.stderr(`error: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (isBatonError(err)) {
    io.stderr(`error: ${err.code}: ${err.message}${err.details ? ` ${JSON.stringify(err.details)}` : ''}`);
    return 1;
  }
  const code = (err as NodeJS.ErrnoException).code;
  io.stderr(`error: ${code === 'EEXIST' ? 'the output file already exists' : (err as Error).message}`);
  return 1;
}
