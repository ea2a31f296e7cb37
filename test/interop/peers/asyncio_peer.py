#!/usr/bin/env python3
"""Interop peer built on asyncio streams (StreamReader.readuntil / readexactly).

Framings (switchboard spec strings):
  line           readuntil(b"\\n"), a trailing CR is stripped
  length:u32be   readexactly(4) + struct '!I', then readexactly(n)
  digits:N       readexactly(N) ASCII digits, then readexactly(n)
  fixed:N        readexactly(N)
  netstring      readuntil(b":"), readexactly(n), readexactly(1) == b","
  eof            read() to EOF after the peer's write_eof()

Usage:
  asyncio_peer.py server --framing SPEC [--port 0]
      prints "listening PORT", echoes every frame on every connection until killed.
  asyncio_peer.py client --port P --framing SPEC [--hex] MESSAGE...
      sends every message, prints one JSON line {"hex", "text"} per reply, exits 0.
"""

import argparse
import asyncio
import json
import struct
import sys

LINE_LIMIT = 65536


def parse_framing(spec):
    kind, _, arg = spec.partition(":")
    if kind == "line" and arg == "":
        return ("line", 0)
    if kind == "length" and arg in ("", "u32be"):
        return ("length", 4)
    if kind == "digits":
        return ("digits", int(arg or "5"))
    if kind == "fixed":
        return ("fixed", int(arg))
    if kind == "netstring" and arg == "":
        return ("netstring", 0)
    if kind == "eof" and arg == "":
        return ("eof", 0)
    raise SystemExit("asyncio_peer: unsupported framing " + spec)


def encode(framing, payload):
    kind, size = framing
    if kind == "line":
        return payload + b"\n"
    if kind == "length":
        return struct.pack("!I", len(payload)) + payload
    if kind == "digits":
        return str(len(payload)).zfill(size).encode("ascii") + payload
    if kind == "fixed":
        if len(payload) != size:
            raise SystemExit("asyncio_peer: fixed:%d needs %d-byte messages" % (size, size))
        return payload
    if kind == "netstring":
        return str(len(payload)).encode("ascii") + b":" + payload + b","
    return payload


async def read_frame(reader, framing):
    """One frame, or None at a clean EOF between frames."""
    kind, size = framing
    try:
        if kind == "line":
            line = await reader.readuntil(b"\n")
            line = line[:-1]
            return line[:-1] if line.endswith(b"\r") else line
        if kind == "length":
            (length,) = struct.unpack("!I", await reader.readexactly(4))
            return await reader.readexactly(length)
        if kind == "digits":
            header = await reader.readexactly(size)
            if not header.isdigit():
                raise ValueError("bad length digits")
            return await reader.readexactly(int(header))
        if kind == "fixed":
            return await reader.readexactly(size)
        if kind == "netstring":
            header = await reader.readuntil(b":")
            body = await reader.readexactly(int(header[:-1]))
            if await reader.readexactly(1) != b",":
                raise ValueError("netstring without ','")
            return body
        return await reader.read()
    except asyncio.IncompleteReadError as error:
        if error.partial == b"":
            return None
        raise


async def handle(reader, writer, framing):
    try:
        if framing[0] == "eof":
            writer.write(await reader.read())
            await writer.drain()
            return
        while True:
            frame = await read_frame(reader, framing)
            if frame is None:
                return
            writer.write(encode(framing, frame))
            await writer.drain()
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
        print("asyncio_peer: connection error: %r" % error, file=sys.stderr, flush=True)
    finally:
        writer.close()


async def serve(args):
    framing = parse_framing(args.framing)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, framing), args.host, args.port, limit=LINE_LIMIT
    )
    port = server.sockets[0].getsockname()[1]
    print("listening %d" % port, flush=True)
    async with server:
        await server.serve_forever()


def report(message):
    print(json.dumps({"hex": message.hex(), "text": message.decode("utf-8", "replace")}), flush=True)


async def client(args):
    framing = parse_framing(args.framing)
    messages = [bytes.fromhex(m) if args.hex else m.encode("utf-8") for m in args.messages]
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(args.host, args.port, limit=LINE_LIMIT), args.timeout
    )
    if framing[0] == "eof":
        writer.write(b"".join(messages))
        writer.write_eof()
        report(await asyncio.wait_for(reader.read(), args.timeout))
    else:
        for message in messages:
            writer.write(encode(framing, message))
        await writer.drain()
        for _ in messages:
            reply = await asyncio.wait_for(read_frame(reader, framing), args.timeout)
            if reply is None:
                raise SystemExit("asyncio_peer: connection closed before every reply arrived")
            report(reply)
    writer.close()
    await writer.wait_closed()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--framing", required=True)
    parser.add_argument("--hex", action="store_true", help="messages are hex strings")
    parser.add_argument("--timeout", type=float, default=10.0, help="client deadline (s)")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_intermixed_args()
    asyncio.run(serve(args) if args.mode == "server" else client(args))


if __name__ == "__main__":
    main()
