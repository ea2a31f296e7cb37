/**
 * Frames in and out of the commands: one decode loop for every command that reads
 * frames (`decode` from a file, `connect`, `send` and `replay` from a socket), and the
 * writes of encoded frames to a socket.
 *
 * Theory of operation: {@link decodeChunks} pushes each chunk into the framing's
 * sans-IO decoder and hands every complete frame to the caller before it reads the
 * next chunk, so a slow consumer (stdout) slows the reads, and frames before bad input
 * are out before its error. At the end of the chunks it ends the decoder (a frame cut
 * short is `SB_UNEXPECTED_EOF`). {@link socketChunks} turns a Socket into such chunks,
 * ending at the peer's EOF.
 */
import { type CallOptions, type Decoder, NEED_DATA, type Socket } from '../index.js';
import { formatFrame, type OutputFormat, stdout } from './output.js';

/** Bytes asked of the socket per read. */
const RECV_BYTES = 64 * 1024;
/** Frames up to this many bytes in all go out in one write. */
const ONE_WRITE_BYTES = 64 * 1024;

/**
 * Decodes `chunks` with `decoder`, calling `onFrame` for each frame in order with the
 * offset just past it (bytes of the input before the frame's end, counted from the
 * start), then ends the decoder. Stops early, returning false, once `signal` is aborted.
 * Throws the decoder's FrameError/UnexpectedEofError or the source's error.
 */
export async function decodeChunks(
  chunks: AsyncIterable<Uint8Array>,
  decoder: Decoder,
  onFrame: (frame: Uint8Array, end: number) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<boolean> {
  let pushed = 0;
  const drain = async (): Promise<void> => {
    for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
      await onFrame(frame, pushed - decoder.buffered);
    }
  };
  for await (const chunk of chunks) {
    if (signal?.aborted === true) {
      return false;
    }
    pushed += chunk.byteLength;
    decoder.push(chunk);
    await drain();
  }
  decoder.end();
  await drain();
  return true;
}

/**
 * What a socket receives until the peer's EOF. `options()` gives each read's options
 * (a deadline, a signal). With `quietEnds`, a read that times out (`SB_TIMEOUT`) ends
 * the chunks as EOF would: "stop when nothing more came for a while" (replay).
 */
export async function* socketChunks(
  socket: Socket,
  options: () => CallOptions | undefined = () => undefined,
  quietEnds = false,
): AsyncGenerator<Uint8Array> {
  for (;;) {
    let chunk: Uint8Array;
    try {
      chunk = await socket.recv(RECV_BYTES, options());
    } catch (error) {
      if (quietEnds && (error as { code?: unknown }).code === 'SB_TIMEOUT') {
        return;
      }
      throw error;
    }
    if (chunk.byteLength === 0) {
      return;
    }
    yield chunk;
  }
}

/**
 * Reads frames until the peer's EOF, calling `onFrame` for each. `options()` gives
 * each read's options (the time left, ms), or undefined for no deadline.
 */
export async function receiveFrames(
  socket: Socket,
  decoder: Decoder,
  onFrame: (frame: Uint8Array) => Promise<void> | void,
  options: () => CallOptions | undefined = () => undefined,
): Promise<void> {
  await decodeChunks(socketChunks(socket, options), decoder, (frame) => onFrame(frame));
}

/**
 * Runs `work` on a connected `socket`, destroying the socket when `signal` aborts
 * (so reads and writes in progress fail at once) and when `work` is done.
 */
export async function untilAborted<T>(
  socket: Socket,
  signal: AbortSignal,
  work: () => Promise<T>,
): Promise<T> {
  const aborted = (): void => socket.destroy();
  signal.addEventListener('abort', aborted, { once: true });
  try {
    return await work();
  } finally {
    signal.removeEventListener('abort', aborted);
    socket.destroy();
  }
}

/** A frame printer for `--output FORMAT`. */
export function framePrinter(format: OutputFormat): (frame: Uint8Array) => Promise<void> {
  return (frame) => stdout.line(formatFrame(frame, format));
}

/** Sends one encoded frame's pieces, in one write when small. */
export async function sendPieces(
  socket: Socket,
  pieces: readonly Uint8Array[],
  options?: CallOptions,
): Promise<void> {
  const total = pieces.reduce((sum, piece) => sum + piece.byteLength, 0);
  if (pieces.length === 1 || total <= ONE_WRITE_BYTES) {
    await socket.sendAll(
      pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces, total),
      options,
    );
    return;
  }
  for (const piece of pieces) {
    await socket.sendAll(piece, options);
  }
}
