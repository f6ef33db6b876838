import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Device secrets and API tokens are 256-bit random values, so a slow password hash buys nothing:
 * nobody can guess them. We store an HMAC-SHA256 keyed with a per-installation key kept outside
 * the database (a stolen database alone does not let anyone check guesses), which keeps a
 * reconnect storm of thousands of devices cheap.
 */
export class SecretHasher {
  constructor(private readonly key: Buffer) {}

  /** Loads `{dataDir}/secret-hash.key`, creating it (mode 0600) on first start. */
  static forDataDir(dataDir: string): SecretHasher {
    const path = join(dataDir, 'secret-hash.key');
    if (!existsSync(path)) {
      writeFileSync(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
    }
    return new SecretHasher(readFileSync(path));
  }

  hash(secret: string): Buffer {
    return createHmac('sha256', this.key).update(secret).digest();
  }

  /** Constant-time comparison of a presented secret against a stored hash. */
  matches(secret: string, storedHash: Buffer): boolean {
    const presented = this.hash(secret);
    return presented.length === storedHash.length && timingSafeEqual(presented, storedHash);
  }
}

/** A new 256-bit secret, base64url (43 characters), optionally prefixed to say what it is. */
export const newSecret = (prefix = ''): string => prefix + randomBytes(32).toString('base64url');

/** A short random id for records (tokens, executions). */
export const newId = (bytes = 9): string => randomBytes(bytes).toString('base64url');
