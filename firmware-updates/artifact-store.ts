/**
 * Firmware images on disk, content-addressed: `{dataDir}/firmware/{sha256}.bin`, plus a chunk
 * table per chunk size beside it (`{sha256}.{chunkSize}.chunks`); removing an image removes its
 * chunk tables too.
 *
 * An upload streams to a temp file in the same directory while it is hashed (whole image and
 * chunk table in one pass), is synced, then renamed into place: a crash leaves only a temp file,
 * never a half-written image under a digest it does not have. Nothing holds a whole image in memory.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { writeFileAtomic } from '../device-sdk/firmware/atomic-file.js';
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../device-sdk/firmware/manifest.js';
import { blockRange, digestFile, ImageDigester, type ImageDigest } from './chunk-table.js';

export const DEFAULT_MAX_IMAGE_BYTES = 1024 ** 3;

export interface ArtifactStoreOptions {
  dataDir: string;
  /** Uploads beyond this many bytes fail with `TooLarge` and leave nothing behind. Default 1 GiB. */
  maxBytes?: number;
}

export interface StoredArtifact extends ImageDigest {
  path: string;
}

export interface PutOptions {
  chunkSize?: number;
  /** If given, an image with another digest is refused (`ImageDigestMismatch`). */
  expectedSha256?: string;
}

/** An open image for serving blocks; close it when the stream ends. */
export interface ArtifactReader {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
  /** Bytes `position`..`position + length` into `target` at `offset`: one positioned read (more only if the OS returns less). */
  readInto(target: Buffer, offset: number, position: number, length: number): Promise<void>;
  readBlock(index: number, chunkSize: number): Promise<Buffer>;
  close(): Promise<void>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function checkDigest(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new BatonError('InvalidRequest', 'An artifact is named by its hex SHA-256.');
  return sha256;
}

function checkChunkSize(chunkSize: number): number {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new BatonError('InvalidRequest', `The chunk size must be ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}.`);
  }
  return chunkSize;
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

export function createArtifactStore({ dataDir, maxBytes = DEFAULT_MAX_IMAGE_BYTES }: ArtifactStoreOptions) {
  const dir = join(dataDir, 'firmware');
  const imagePath = (sha256: string) => join(dir, `${checkDigest(sha256)}.bin`);
  const tablePath = (sha256: string, chunkSize: number) =>
    join(dir, `${checkDigest(sha256)}.${checkChunkSize(chunkSize)}.chunks`);

  /** Streams `source` to a temp file, hashing as it goes; stops at `maxBytes`. */
  async function receive(source: Readable, temp: string, chunkSize: number): Promise<ImageDigest> {
    const digester = new ImageDigester(chunkSize);
    const meter = async function* (pieces: AsyncIterable<Buffer>) {
      for await (const piece of pieces) {
        if (digester.size + piece.length > maxBytes) {
          throw new BatonError('TooLarge', `The image exceeds ${maxBytes} bytes.`);
        }
        digester.update(piece);
        yield piece;
      }
    };
    const file = createWriteStream(temp, { flags: 'wx', mode: 0o640, flush: true });
    try {
      await pipeline(source, meter, file);
    } catch (err) {
      // A failed pipeline destroys the file stream, but its open(2) may still be under way: wait
      // for the close, or the temp file would appear after the caller removed it.
      if (!file.closed) await once(file, 'close');
      throw err;
    }
    return digester.digest();
  }

  async function put(source: Readable, { chunkSize = DEFAULT_CHUNK_SIZE, expectedSha256 }: PutOptions = {}) {
    checkChunkSize(chunkSize);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const temp = join(dir, `.upload-${randomUUID()}.tmp`);
    try {
      const digest = await receive(source, temp, chunkSize);
      if (digest.size === 0) throw new BatonError('InvalidRequest', 'The image is empty.');
      if (expectedSha256 !== undefined && digest.sha256 !== expectedSha256) {
        throw new BatonError('ImageDigestMismatch', 'The uploaded image differs from the expected SHA-256.');
      }
      // Same name, same bytes: re-uploading an existing image simply replaces it with itself.
      await rename(temp, imagePath(digest.sha256));
      // Also makes the rename durable: writeFileAtomic fsyncs this same directory.
      await writeFileAtomic(tablePath(digest.sha256, chunkSize), digest.chunkTable, { mode: 0o640 });
      return { ...digest, path: imagePath(digest.sha256) } satisfies StoredArtifact;
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  /** The chunk table for a chunk size, computed from the image (and kept) the first time it is asked. */
  async function chunkTable(sha256: string, chunkSize: number): Promise<Buffer> {
    try {
      return await readFile(tablePath(sha256, chunkSize));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    const digest = await digestFile(imagePath(sha256), chunkSize).catch((err: unknown) => {
      throw isMissing(err) ? new BatonError('NotFound', `No firmware image ${sha256}.`) : err;
    });
    await writeFileAtomic(tablePath(sha256, chunkSize), digest.chunkTable, { mode: 0o640 });
    return digest.chunkTable;
  }

  async function openReader(sha256: string): Promise<ArtifactReader> {
    let handle: FileHandle;
    try {
      handle = await open(imagePath(sha256), 'r');
    } catch (err) {
      throw isMissing(err) ? new BatonError('NotFound', `No firmware image ${sha256}.`) : err;
    }
    const { size } = await handle.stat();
    return readerOf(handle, size);
  }

  async function has(sha256: string): Promise<boolean> {
    return stat(imagePath(sha256)).then(() => true, () => false);
  }

  /**
   * Removes the image, then every chunk table of it. In that order: a chunk table is only ever
   * computed from the image, so once the image is gone no new table can appear behind the sweep.
   */
  async function remove(sha256: string): Promise<void> {
    const unlinkIfThere = (path: string) => unlink(path).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
    await unlinkIfThere(imagePath(sha256));
    const names = await readdir(dir).catch((err: unknown) => {
      if (isMissing(err)) return [];
      throw err;
    });
    const tables = names.filter((name) => name.startsWith(`${sha256}.`) && name.endsWith('.chunks'));
    await Promise.all(tables.map((name) => unlinkIfThere(join(dir, name))));
  }

  return { dir, imagePath, put, chunkTable, openReader, has, remove };
}

export type ArtifactStore = ReturnType<typeof createArtifactStore>;

function readerOf(handle: FileHandle, size: number): ArtifactReader {
  const checkRange = (position: number, length: number) => {
    if (position < 0 || length < 0 || position + length > size) {
      throw new BatonError('InvalidRequest', `Bytes ${position}+${length} lie outside the ${size}-byte image.`);
    }
  };
  const readInto = async (target: Buffer, offset: number, position: number, length: number): Promise<void> => {
    checkRange(position, length);
    if (offset < 0 || offset + length > target.length) throw new BatonError('InvalidRequest', 'The read does not fit its buffer.');
    let filled = 0;
    // pread(2) may return fewer bytes than asked; loop until the range is complete.
    while (filled < length) {
      const { bytesRead } = await handle.read(target, offset + filled, length - filled, position + filled);
      if (bytesRead === 0) throw new BatonError('InternalError', 'The image is shorter than its recorded size.');
      filled += bytesRead;
    }
  };
  const read = async (position: number, length: number): Promise<Buffer> => {
    checkRange(position, length);
    const buffer = Buffer.alloc(length);
    await readInto(buffer, 0, position, length);
    return buffer;
  };
  return {
    size,
    read,
    readInto,
    async readBlock(index, chunkSize) {
      const range = blockRange(index, size, checkChunkSize(chunkSize));
      if (!range) throw new BatonError('InvalidRequest', `Block ${index} lies beyond the image.`);
      return read(range.offset, range.length);
    },
    close: () => handle.close(),
  };
}
