/** The two file operations the slot and the bitmap share: open for positioned I/O, write fully at an offset. */
import { open, type FileHandle } from 'node:fs/promises';

/** Opens `path` for positioned reads and writes (never append mode, where Linux ignores the offset), creating it 0600 if missing. */
export async function openPositioned(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return open(path, 'w+', 0o600);
  }
}

/**
 * Writes `buffers` back to back from `position` with one `pwritev` (one trip to the thread pool
 * for a run of blocks, not one a block), again for the rest if the write was short.
 */
export async function writeAt(handle: FileHandle, buffers: readonly Uint8Array[], position: number): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  while (rest.length > 0) {
    let written = (await handle.writev(rest, position)).bytesWritten;
    position += written;
    while (rest.length > 0 && written >= rest[0]!.length) written -= rest.shift()!.length;
    if (written > 0) rest[0] = rest[0]!.subarray(written);
  }
}
