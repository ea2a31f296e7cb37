/**
 * ByteQueue: the input buffer shared by every decoder.
 *
 * Theory of operation
 * -------------------
 * Goals (SPEC §2, STYLE rule 14):
 * 1. Pushing a chunk does not copy it: the queue keeps a list of the caller's
 *    chunks, plus `headOffset`, the number of bytes already consumed from the
 *    first live chunk. (Exception: tiny chunks trickling in, see "Coalescing".)
 * 2. Taking a frame that lies inside one chunk returns a `subarray` view (or the
 *    chunk itself when the frame is exactly the chunk). A frame spanning chunks
 *    is copied exactly once: into a view of the queue's slab when small (see
 *    "Small spanning frames"), else into one new array of the frame's size.
 * 3. Every operation is amortized O(bytes touched): no operation walks the
 *    chunk list from the start again and again. Searches resume where the
 *    previous one stopped (the caller remembers how far it searched), and a
 *    cursor remembers which chunk holds a recently used position, so that a
 *    search over 65,536 one-byte chunks is linear, not quadratic.
 *
 * Positions. Callers speak in *offsets* relative to the first unconsumed byte
 * (0 = the next byte a decoder would read). Internally, the cursor uses
 * *absolute* positions (bytes since the queue was created), because they do not
 * change when the head is consumed; `consumed` is the absolute position of
 * offset 0, which is also what decoders report in error offsets.
 *
 * Layout:
 * ```
 *   chunks:  [ dead | dead | head chunk (`first`) | chunk | chunk ]
 *                           ^headOffset           live bytes = length
 *            chunks before `head` are consumed and dropped in batches
 * ```
 * Consumed entries at the front of `chunks` are dropped lazily (when more than
 * half of the array is dead), which keeps removal amortized O(1) without
 * `Array.prototype.shift` on every frame.
 *
 * Coalescing. A peer trickling one byte per read (slowloris, or a 1-byte-chunk
 * test) would otherwise leave the queue holding one tiny array, each with its own
 * ArrayBuffer, per byte: ~100 bytes of overhead per byte of data, and a garbage
 * collector that slows down with every array kept alive, which made decoding such
 * input superlinear in practice (measured: 10x the bytes cost 30x the time). So a
 * chunk of at most 128 bytes that arrives while bytes are already buffered is
 * copied into an owned "spare" buffer (1 KiB growing to 64 KiB, doubling with the
 * amount buffered, so the copying stays linear), and the chunk itself becomes
 * garbage at once. The last chunk entry is then a view of the spare that grows in
 * place. A chunk that arrives into an empty queue is still kept by reference, so a
 * whole message per read stays zero-copy.
 *
 * Large frames: assembled as they arrive. A decoder that has read a header and knows
 * the frame's wire length calls {@link ByteQueue.expectFrame} while it waits for the
 * rest. For a frame of at least ASSEMBLE_THRESHOLD bytes, once half of it has
 * arrived, the queue allocates one buffer of the frame's exact size, copies the bytes
 * received so far into it, and from then on copies every chunk into it as the chunk
 * is pushed (the chunk is garbage at once); the frame's entry in the chunk list is a
 * view of that buffer that grows in place, like the spare's. When the last byte
 * arrives, `take` returns a view of the buffer: nothing is gathered at the end.
 * ```
 *   frame of N bytes:  [ chunk | chunk | ... ]  received < N/2: kept by reference
 *                      [ assembly: received | (reserved) ]  received >= N/2: one buffer of N
 * ```
 * Why wait for half: the buffer is sized from the header, and a header may lie. The
 * rule "allocate at most twice what actually arrived" means a peer that claims 1 GiB
 * and sends 10 bytes makes the queue allocate nothing, and at every moment the memory
 * held is at most twice the bytes received (the unfilled part is {@link
 * ByteQueue.reserved}, which the server's input budget counts). A doubling buffer
 * (grow by 2x, copy what is there) obeys the same bound but copies every byte about
 * twice; this is that doubling taken in one step, so each byte is copied exactly
 * once, half of them while they arrive (cache-hot) and the other half at the switch.
 * Small frames are unaffected: a frame inside one chunk is still a view, and one that
 * spans chunks below the threshold is still copied once when complete.
 *
 * Small spanning frames. A frame of up to SLAB_FRAME bytes that spans chunks is copied
 * into a view of a zero-filled SLAB_SIZE slab the queue owns, cut one after the other
 * (8-byte aligned), rather than into an array of its own. Why: an ArrayBuffer per frame
 * is a zeroing malloc plus external-memory bookkeeping for the garbage collector, and
 * with 1 KiB frames (one spans every chunk) it cost more than everything else the
 * decoder does for the other frames of the chunk together. What the slab may share a
 * `.buffer` with: earlier frames of the same queue, zeros, never anything else (a
 * chunk view shares its chunk the same way). Like the spare, the slab goes when the
 * queue empties, so an idle connection holds none.
 */

/** A shared empty array: zero-length frames need no allocation. */
const EMPTY = new Uint8Array(0);

/** Frames at least this large are assembled in uninitialized memory (see allocateFrame). */
const UNINITIALIZED_THRESHOLD = 64 * 1024;

/**
 * Node's `Buffer`, when running on Node: a global, not an import, so the codec
 * stays free of I/O modules and still runs where Buffer is missing.
 */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } })
  .Buffer;

/**
 * A new array for a frame that spans chunks. Why uninitialized memory for large
 * frames: `new Uint8Array(n)` zero-fills, which for a 1 MiB frame costs about as
 * much as the copy that overwrites every byte right after. `allocUnsafeSlow` gives
 * the frame its own ArrayBuffer (not a slice of a shared pool), so
 * `frame.buffer` holds only the frame.
 */
function allocateFrame(length: number): Uint8Array {
  if (length >= UNINITIALIZED_THRESHOLD && NodeBuffer !== undefined) {
    return NodeBuffer.allocUnsafeSlow(length);
  }
  return new Uint8Array(length);
}

/**
 * Spanning frames up to SLAB_FRAME bytes are cut from a SLAB_SIZE slab the queue owns
 * (see "Small spanning frames").
 */
const SLAB_SIZE = 16 * 1024;
const SLAB_FRAME = 4 * 1024;

/** Frames at least this large (wire bytes) are assembled as they arrive (see "Large frames"). */
const ASSEMBLE_THRESHOLD = 64 * 1024;

/**
 * Chunks up to this size that arrive while bytes are already buffered are copied
 * into an owned buffer instead of being kept by reference (see "Coalescing").
 */
const SMALL_CHUNK = 128;
/** Smallest and largest owned buffer for coalesced small chunks. */
const MIN_COALESCE_BUFFER = 1024;
const MAX_COALESCE_BUFFER = 64 * 1024;

/** Spans up to this many bytes are searched and copied with plain JS loops. */
const SHORT_SPAN = 16;

/** `chunk.indexOf(byte, start)` as a JS loop, for short spans. */
function scan(chunk: Uint8Array, byte: number, start: number): number {
  for (let position = start; position < chunk.length; position++) {
    if (chunk[position] === byte) {
      return position;
    }
  }
  return -1;
}

/** Dead entries tolerated at the front of the chunk list before it is compacted. */
const COMPACT_THRESHOLD = 64;
/** An emptied chunk list keeps its array up to this many slots (see ByteQueue.count). */
const MAX_KEPT_SLOTS = 64;

/** A queue of byte chunks with zero-copy reads and linear-time searching. */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Index in `chunks` of the first live chunk (chunks before it are consumed). */
  private head = 0;
  /**
   * Entries in use: `chunks[head..count)` are live, slots from `count` on are EMPTY.
   * Why not `chunks.length`: emptying an array with `length = 0` frees its storage and
   * the next push allocates it again (measured ~80 ns per chunk), so an emptied queue
   * keeps its array (up to MAX_KEPT_SLOTS) and overwrites the slots.
   */
  private count = 0;
  /** The first live chunk, cached so the hot paths skip an array lookup. */
  private first: Uint8Array = EMPTY;
  /** Bytes of `first` already consumed. */
  private headOffset = 0;
  /**
   * Absolute position of `first[0]`, and of the end of the last pushed byte. The
   * length and the consumed count are derived from these, so that taking a frame
   * from the head chunk (the hot path) writes one field: `headOffset`.
   */
  private headBase = 0;
  private endPosition = 0;
  /** Cursor: index in `chunks` and absolute position of that chunk's byte 0. */
  private cursorIndex = 0;
  private cursorStart = 0;
  /** Owned buffer receiving small chunks (EMPTY when none). */
  private spare: Uint8Array = EMPTY;
  /** Bytes of `spare` written so far; bytes below it may be in use by frames. */
  private spareFill = 0;
  /** Where in `spare` the last chunk entry starts, or -1 if the last entry is not a view of `spare`. */
  private spareEntryStart = -1;
  /**
   * The buffer a large frame is assembled in (EMPTY when none), sized to the frame's
   * wire length; its first `assemblyFill` bytes are received. While it is set, it is
   * the last chunk entry (a view of its filled part) and every pushed byte goes into
   * it until it is full (see "Large frames").
   */
  private assembly: Uint8Array = EMPTY;
  private assemblyFill = 0;
  /** Slab for small spanning frames (EMPTY when none), and how much of it is cut. */
  private slab: Uint8Array = EMPTY;
  private slabUsed = 0;
  /**
   * Bytes examined by {@link ByteQueue.indexOfByte} since the queue was created.
   * Exposed so tests can check that delimiter searches are linear without timing
   * anything.
   */
  bytesSearched = 0;
  /**
   * Chunk-list steps taken by the cursor since the queue was created. Like
   * {@link ByteQueue.bytesSearched}, a time-free way for tests to check that
   * access across many small chunks stays linear.
   */
  cursorSteps = 0;
  /**
   * Bytes copied out of pushed chunks into frames or assembly buffers (not counting
   * the small-chunk coalescing), and bytes allocated for them, since the queue was
   * created. Exposed so tests can count copies and allocations without timing.
   */
  bytesCopied = 0;
  bytesAllocated = 0;

  /**
   * The first live chunk; its unconsumed bytes start at {@link ByteQueue.headStart}.
   * For decoders' fast paths: reading a header straight from it skips the generic
   * cross-chunk code when (as usual) the header lies in one chunk. Read-only use.
   */
  get headChunk(): Uint8Array {
    return this.first;
  }

  /** Offset in {@link ByteQueue.headChunk} of the next unconsumed byte. */
  get headStart(): number {
    return this.headOffset;
  }

  /** Bytes buffered and not yet consumed. */
  get length(): number {
    return this.endPosition - this.headBase - this.headOffset;
  }

  /** Bytes consumed since the queue was created: the input offset of the next byte. */
  get consumed(): number {
    return this.headBase + this.headOffset;
  }

  /**
   * Memory held on top of {@link ByteQueue.length} that no frame uses yet: the part of
   * a large frame's buffer not yet received (never more than the bytes received, see
   * "Large frames") and the uncut rest of the small-frame slab (at most SLAB_SIZE, see
   * "Small spanning frames"). The server's input budget counts it, so a peer that keeps
   * a byte queued cannot pin a slab per connection outside the budget.
   */
  get reserved(): number {
    return this.assembly.length - this.assemblyFill + (this.slab.length - this.slabUsed);
  }

  /**
   * A decoder's hint, while it waits: the frame starting at offset 0 is `wireLength`
   * bytes long (header included) and more than {@link ByteQueue.length} of them. A
   * large frame with at least half of its bytes here gets its assembly buffer now (see
   * "Large frames"); otherwise nothing happens, so the decoder may call this on every
   * `next()` that waits. O(1) except for the one switch, which copies what is buffered.
   */
  expectFrame(wireLength: number): void {
    const length = this.length;
    if (
      wireLength < ASSEMBLE_THRESHOLD ||
      this.assembly !== EMPTY ||
      length * 2 < wireLength ||
      length >= wireLength
    ) {
      return;
    }
    const buffer = allocateFrame(wireLength);
    this.bytesAllocated += wireLength;
    this.bytesCopied += length;
    this.copyTo(buffer, 0, 0, length);
    const entry = buffer.subarray(0, length);
    // The queue now holds exactly this one entry, at the same absolute positions.
    const start = this.consumed;
    this.chunks = [entry];
    this.head = 0;
    this.count = 1;
    this.first = entry;
    this.headOffset = 0;
    this.headBase = start;
    this.cursorIndex = 0;
    this.cursorStart = start;
    this.spare = EMPTY;
    this.spareFill = 0;
    this.spareEntryStart = -1;
    this.assembly = buffer;
    this.assemblyFill = length;
  }
  /**
   * Appends `chunk`: kept by reference, except that a small chunk arriving while
   * bytes are buffered is copied (see "Coalescing"). Empty chunks are ignored.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) {
      return;
    }
    if (this.assembly !== EMPTY) {
      this.pushIntoAssembly(chunk);
      return;
    }
    if (chunk.length <= SMALL_CHUNK && this.first !== EMPTY) {
      this.pushSmall(chunk);
      return;
    }
    this.pushReference(chunk);
  }

  /** Appends a non-empty chunk by reference. */
  private pushReference(chunk: Uint8Array): void {
    this.spareEntryStart = -1;
    if (this.first === EMPTY) {
      // Empty queue (dropHead reset the list): the position bookkeeping restarts here.
      this.headOffset = 0;
      this.headBase = this.endPosition;
      this.first = chunk;
      this.cursorIndex = 0;
      this.cursorStart = this.endPosition;
    }
    this.chunks[this.count++] = chunk;
    this.endPosition += chunk.length;
  }

  /** Copies a chunk into the frame being assembled; what follows the frame is pushed as usual. */
  private pushIntoAssembly(chunk: Uint8Array): void {
    const assembly = this.assembly;
    const fill = this.assemblyFill;
    const taken = Math.min(assembly.length - fill, chunk.length);
    assembly.set(taken === chunk.length ? chunk : chunk.subarray(0, taken), fill);
    this.bytesCopied += taken;
    const filled = fill + taken;
    this.assemblyFill = filled;
    this.endPosition += taken;
    const entry = filled === assembly.length ? assembly : assembly.subarray(0, filled);
    const last = this.count - 1;
    this.chunks[last] = entry;
    if (last === this.head) {
      this.first = entry;
    }
    if (filled === assembly.length) {
      // Complete: from here on it is an ordinary chunk.
      this.assembly = EMPTY;
      this.assemblyFill = 0;
      if (taken < chunk.length) {
        // By reference, not coalesced: the rest of a chunk the frame ended in (often the
        // start of the next frame) would otherwise cost a fresh spare buffer.
        this.pushReference(chunk.subarray(taken));
      }
    }
  }

  /** Copies a small chunk into the spare buffer, growing the last entry when it is a view of it. */
  private pushSmall(chunk: Uint8Array): void {
    const length = chunk.length;
    if (this.spareFill + length > this.spare.length) {
      // A fresh spare sized to what is buffered: doubling keeps total copying O(n).
      const wanted = 2 ** Math.ceil(Math.log2(this.length + length));
      this.spare = new Uint8Array(
        Math.min(MAX_COALESCE_BUFFER, Math.max(MIN_COALESCE_BUFFER, wanted)),
      );
      this.spareFill = 0;
      this.spareEntryStart = -1;
    }
    const spare = this.spare;
    const fill = this.spareFill;
    for (let index = 0; index < length; index++) {
      spare[fill + index] = chunk[index]!;
    }
    this.spareFill = fill + length;
    this.endPosition += length;
    if (this.spareEntryStart < 0) {
      this.spareEntryStart = fill;
      this.chunks[this.count++] = spare.subarray(fill, this.spareFill);
      return;
    }
    // Grow the last entry in place. Its start (and so every absolute position,
    // the cursor included) is unchanged; only its length grows.
    const entry = spare.subarray(this.spareEntryStart, this.spareFill);
    const last = this.count - 1;
    this.chunks[last] = entry;
    if (last === this.head) {
      this.first = entry;
    }
  }

  /** The byte at `offset` (0 <= offset < length). */
  byteAt(offset: number): number {
    const position = this.headOffset + offset;
    if (position < this.first.length) {
      return this.first[position]!;
    }
    const absolute = this.headBase + position;
    const index = this.locate(absolute);
    return this.chunks[index]![absolute - this.cursorStart]!;
  }

  /**
   * Reads an unsigned integer of `width` bytes (1..8) at `offset` without
   * consuming it. Exact up to 2^53 - 1; larger values come back as the nearest
   * double, which still compares as larger than every safe integer (enough for
   * a size check). The caller guarantees `offset + width <= length`.
   */
  readUint(offset: number, width: number, littleEndian: boolean): number {
    let value = 0;
    const position = this.headOffset + offset;
    const first = this.first;
    // Why multiply-and-add rather than shifts: `<<` works on int32, so a u32 with
    // the top bit set would turn negative, and u40..u64 would be truncated.
    if (position + width <= first.length) {
      if (littleEndian) {
        for (let index = width - 1; index >= 0; index--) {
          value = value * 256 + first[position + index]!;
        }
      } else {
        for (let index = 0; index < width; index++) {
          value = value * 256 + first[position + index]!;
        }
      }
      return value;
    }
    if (littleEndian) {
      for (let index = width - 1; index >= 0; index--) {
        value = value * 256 + this.byteAt(offset + index);
      }
    } else {
      for (let index = 0; index < width; index++) {
        value = value * 256 + this.byteAt(offset + index);
      }
    }
    return value;
  }

  /**
   * Returns the `length` bytes at `offset` without consuming them: a view when they
   * lie in one chunk, otherwise a copy. The caller guarantees they are buffered.
   */
  peek(offset: number, length: number): Uint8Array {
    const position = this.headOffset + offset;
    if (position + length <= this.first.length) {
      return this.first.subarray(position, position + length);
    }
    const copy = new Uint8Array(length);
    this.copyTo(copy, 0, offset, length);
    return copy;
  }

  /** Copies `length` buffered bytes starting at `offset` into `target` at `targetOffset`. */
  copyTo(target: Uint8Array, targetOffset: number, offset: number, length: number): void {
    let absolute = this.consumed + offset;
    let written = 0;
    while (written < length) {
      const index = this.locate(absolute);
      const chunk = this.chunks[index]!;
      const start = absolute - this.cursorStart;
      const end = Math.min(chunk.length, start + length - written);
      if (end - start <= SHORT_SPAN) {
        // Tiny pieces (one-byte chunks from a slow peer): a byte loop beats
        // allocating a subarray for `set`.
        for (let position = start; position < end; position++) {
          target[targetOffset + written + position - start] = chunk[position]!;
        }
      } else {
        target.set(chunk.subarray(start, end), targetOffset + written);
      }
      written += end - start;
      absolute += end - start;
    }
  }

  /**
   * Offset of the first `byte` at or after `from`, or -1 if none is buffered.
   * Examines each byte once per call; callers pass the offset where their last
   * unsuccessful search stopped, so no byte is searched twice.
   */
  indexOfByte(byte: number, from: number): number {
    const consumed = this.consumed;
    let absolute = consumed + from;
    const end = this.endPosition;
    while (absolute < end) {
      const index = this.locate(absolute);
      const chunk = this.chunks[index]!;
      const start = absolute - this.cursorStart;
      // Native indexOf is a tight C++ loop, much faster than JS over long spans;
      // over a few bytes, its call overhead dominates and a JS loop wins.
      const found =
        chunk.length - start <= SHORT_SPAN ? scan(chunk, byte, start) : chunk.indexOf(byte, start);
      if (found >= 0) {
        this.bytesSearched += found - start + 1;
        return this.cursorStart + found - consumed;
      }
      this.bytesSearched += chunk.length - start;
      absolute = this.cursorStart + chunk.length;
    }
    return -1;
  }

  /**
   * Offset of the first occurrence of `needle` (at least one byte) starting at or
   * after `from`, or -1 if none is buffered whole. Candidates are found with
   * {@link ByteQueue.indexOfByte}; each is confirmed by comparing at most
   * `needle.length - 1` more bytes. A caller that searches again after more bytes
   * arrived resumes at `max(from, length - (needle.length - 1))` (an occurrence cut
   * by the end of the buffer starts no earlier), so no byte is searched twice
   * beyond that overlap.
   */
  indexOf(needle: Uint8Array, from: number): number {
    const firstByte = needle[0]!;
    const last = this.length - needle.length;
    let position = from;
    while (position <= last) {
      const candidate = this.indexOfByte(firstByte, position);
      if (candidate < 0 || candidate > last) {
        return -1;
      }
      if (this.matchesAt(needle, candidate)) {
        return candidate;
      }
      position = candidate + 1;
    }
    return -1;
  }

  /** True when the bytes at `offset` equal `needle` (all of them buffered). */
  private matchesAt(needle: Uint8Array, offset: number): boolean {
    for (let index = 1; index < needle.length; index++) {
      if (this.byteAt(offset + index) !== needle[index]) {
        return false;
      }
    }
    return true;
  }

  /**
   * Removes `skip` bytes, then removes and returns the next `length` bytes. The
   * result is a view when those bytes lie in one chunk, otherwise one new array.
   * The caller guarantees `skip + length <= this.length`. (Taking the skip as an
   * argument lets a header and its body leave the queue in one step.)
   */
  take(length: number, skip = 0): Uint8Array {
    const first = this.first;
    const start = this.headOffset + skip;
    const end = start + length;
    if (end <= first.length) {
      let frame: Uint8Array;
      if (length === 0) {
        frame = EMPTY;
      } else if (start === 0 && end === first.length) {
        frame = first;
      } else {
        // subarray rather than `new Uint8Array(buffer, offset, length)`: measured
        // faster here on Node 20 (bench/codec.ts), though not in isolation.
        frame = first.subarray(start, end);
      }
      if (end === first.length) {
        this.dropHead();
      } else {
        this.headOffset = end;
      }
      return frame;
    }
    return this.takeSpanning(length, skip);
  }

  /**
   * Consumes the head chunk up to `end` and returns its bytes [`from`, `end`) as a
   * view: the fast path of a decoder that found a whole frame in
   * {@link ByteQueue.headChunk}. The caller guarantees
   * `headStart <= from <= end <= headChunk.length`.
   */
  takeFromHead(from: number, end: number): Uint8Array {
    const first = this.first;
    if (end === first.length) {
      this.dropHead();
      return from === 0 ? first : first.subarray(from, end);
    }
    this.headOffset = end;
    return first.subarray(from, end);
  }

  /** Removes `count` buffered bytes (count <= length). */
  skip(count: number): void {
    let rest = count;
    while (rest > 0) {
      const available = this.first.length - this.headOffset;
      if (rest < available) {
        this.headOffset += rest;
        return;
      }
      rest -= available;
      this.dropHead();
    }
  }

  private takeSpanning(length: number, skip: number): Uint8Array {
    this.skip(skip);
    const available = this.first.length - this.headOffset;
    if (length <= available) {
      return this.take(length);
    }
    const frame = length <= SLAB_FRAME ? this.cutFromSlab(length) : allocateFrame(length);
    this.bytesAllocated += length;
    this.bytesCopied += length;
    this.copyTo(frame, 0, 0, length);
    this.skip(length);
    return frame;
  }

  /** A zeroed view of `length` bytes for a small spanning frame (see "Small spanning frames"). */
  private cutFromSlab(length: number): Uint8Array {
    let used = this.slabUsed;
    if (this.slab.length - used < length) {
      this.slab = new Uint8Array(SLAB_SIZE);
      used = 0;
    }
    this.slabUsed = used + ((length + 7) & ~7);
    return this.slab.subarray(used, used + length);
  }

  /** Drops the (fully consumed) head chunk. */
  private dropHead(): void {
    this.headBase += this.first.length;
    this.chunks[this.head] = EMPTY;
    this.head++;
    this.headOffset = 0;
    if (this.head >= this.count) {
      if (this.chunks.length > MAX_KEPT_SLOTS) {
        this.chunks = [];
      }
      this.head = 0;
      this.count = 0;
      this.first = EMPTY;
      this.cursorIndex = 0;
      this.cursorStart = this.headBase;
      // Release the spare: an idle connection should not hold up to 64 KiB.
      this.spare = EMPTY;
      this.spareFill = 0;
      this.spareEntryStart = -1;
      this.slab = EMPTY;
      this.slabUsed = 0;
      // (An assembly is consumed only once complete, when it is already cleared; this
      // keeps the queue consistent should a caller consume a frame early.)
      this.assembly = EMPTY;
      this.assemblyFill = 0;
      return;
    }
    if (this.head >= COMPACT_THRESHOLD && this.head * 2 >= this.count) {
      this.chunks.splice(0, this.head);
      this.count -= this.head;
      this.cursorIndex -= this.head;
      this.head = 0;
    }
    this.first = this.chunks[this.head]!;
  }

  /**
   * Moves the cursor to the chunk holding absolute position `absolute` (which must be
   * buffered) and returns its index; `cursorStart` is then that chunk's start.
   * Walks from the cursor or from the head, whichever is nearer, so sequential
   * access (searching forward, reading a header) costs O(1) amortized per chunk.
   */
  private locate(absolute: number): number {
    const headStart = this.headBase;
    let index = this.cursorIndex;
    let start = this.cursorStart;
    if (index < this.head || absolute - headStart < Math.abs(absolute - start)) {
      index = this.head;
      start = headStart;
    }
    while (absolute < start) {
      index--;
      start -= this.chunks[index]!.length;
      this.cursorSteps++;
    }
    while (absolute >= start + this.chunks[index]!.length) {
      start += this.chunks[index]!.length;
      index++;
      this.cursorSteps++;
    }
    this.cursorIndex = index;
    this.cursorStart = start;
    return index;
  }
}
