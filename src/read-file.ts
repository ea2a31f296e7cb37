/**
 * Reading a file a caller names (a PEM certificate, a `.creds` file, a recording)
 * without trusting its size: a huge or endless file (`/dev/zero`, a FIFO) must not
 * exhaust memory. Shared by the CLI's file flags and the library's file options.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The bytes of `path`, or null once they pass `max`: read in chunks and stopped there,
 * so a huge or endless file (`/dev/zero`) cannot exhaust memory. Throws what the file
 * system throws.
 */
export function readFileUpTo(path: string, max: number): Buffer | null {
  const descriptor = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const read = readSync(descriptor, chunk, 0, chunk.length, null);
      if (read === 0) {
        return Buffer.concat(chunks, total);
      }
      total += read;
      if (total > max) {
        return null;
      }
      chunks.push(chunk.subarray(0, read));
    }
  } finally {
    closeSync(descriptor);
  }
}

/** Largest file a file option or flag may name (a big CA bundle is 300 KB). */
export const MAX_OPTION_FILE_BYTES = 4 * 1024 * 1024;
