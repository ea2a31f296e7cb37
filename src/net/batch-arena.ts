/**
 * BatchArena: the memory a Channel's small output frames are copied into before they
 * are written (see net/channel-output.ts), shared by every channel in the process.
 *
 * Theory of operation
 * -------------------
 * A bump allocator (the trick behind `Buffer.allocUnsafe`'s pool, at batch size). Why:
 * a fresh 16 KiB Buffer per flush is a malloc plus an ArrayBuffer for the garbage
 * collector to sweep, and with one small frame per flush (a request/reply exchange) it
 * was the largest single cost of a round trip. A batch reserves BATCH_SIZE bytes; when
 * it is flushed and no batch was reserved after it, the unused tail goes back, so a
 * lone 68-byte reply uses 72 bytes of an arena. Why this shared state is safe: a region
 * is never reused (the socket may hold a written region until the kernel takes it), and
 * an arena is garbage once every region cut from it has been written. A slow peer can
 * pin at most one arena per queued batch.
 */

/** Room reserved for a batch; a full one is written at once. */
export const BATCH_SIZE = 16 * 1024;
/** Size of one shared arena. */
const ARENA_SIZE = 64 * 1024;

/** Memory for output batches: a bump allocator over ARENA_SIZE ArrayBuffers. */
export class BatchArena {
  private memory: Buffer = Buffer.alloc(0);
  private used = 0;

  /** A new batch of BATCH_SIZE bytes. */
  reserve(): Buffer {
    if (this.memory.length - this.used < BATCH_SIZE) {
      // allocUnsafeSlow: an ArrayBuffer of our own, uninitialized (batches are written
      // before they are sent, and only their written part is sent).
      this.memory = Buffer.allocUnsafeSlow(ARENA_SIZE);
      this.used = 0;
    }
    const start = this.used;
    this.used = start + BATCH_SIZE;
    return this.memory.subarray(start, start + BATCH_SIZE);
  }

  /** `batch` is done with its first `length` bytes: the rest returns if it is the newest region. */
  release(batch: Buffer, length: number): void {
    if (batch.buffer === this.memory.buffer && batch.byteOffset + BATCH_SIZE === this.used) {
      // Keep regions 8-byte aligned, as node's pool does.
      this.used = batch.byteOffset + ((length + 7) & ~7);
    }
  }
}

/** The one arena every channel's batches are cut from. */
export const batchArena = new BatchArena();
