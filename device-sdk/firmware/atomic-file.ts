/**
 * Crash-safe file replacement: after a power cut the file holds either the old or the new bytes,
 * never a mix (write a temp file, fsync it, rename over, fsync the directory; POSIX rename(2)).
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of a newly created file; 0600 because state and keys are nobody else's business. */
  mode?: number;
  /** Fail with EEXIST instead of replacing an existing file (first-start key creation). */
  noClobber?: boolean;
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  { mode = 0o600, noClobber = false }: AtomicWriteOptions = {},
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // link(2) fails if the target exists, which rename(2) would silently replace.
    if (noClobber) await link(temp, path);
    else await rename(temp, path);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await fsyncPath(dirname(path));
}
