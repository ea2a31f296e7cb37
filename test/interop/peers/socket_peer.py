#!/usr/bin/env python3
"""Interop peer written the way the Socket Programming HOWTO writes socket code.

Plain ``socket`` + ``struct``, blocking sockets, one thread per client, and the
HOWTO's ``MySocket`` loops: ``mysend`` calls ``send`` until every byte is out and
``myreceive`` calls ``recv`` until exactly N bytes are in. No asyncio, no helpers.

Framings (the same spec strings switchboard uses):
  fixed:N        every message is N bytes                   (HOWTO "fixed length")
  digits:N       N ASCII decimal digits, then the body       (HOWTO "5 numeric characters")
  length:u32be   struct '!I' length, then the body           (network byte order)
  line           LF-terminated                              (HOWTO "delimited")
  eof            one message per connection, ended by shutdown(SHUT_WR)

Usage:
  socket_peer.py server --framing SPEC [--port 0]
      prints "listening PORT" on stdout, then echoes every frame back on every
      connection until killed. With eof framing it reads until EOF, replies once,
      then closes (the HOWTO's HTTP-like exchange).
  socket_peer.py client --port P --framing SPEC [--hex] MESSAGE...
      sends every MESSAGE (hex-decoded with --hex), reads one reply per message
      and prints each reply as a JSON line {"hex": ..., "text": ...}; exits 0.
"""

import argparse
import json
import socket
import struct
import sys
import threading

CHUNK = 2048


class MySocket:
    """The HOWTO's demonstration class, grown the enhancements it leaves to the reader."""

    def __init__(self, sock=None):
        if sock is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        else:
            self.sock = sock
        # Bytes read past the end of one message: "put it aside and hold onto it".
        self.pending = b""

    def connect(self, host, port):
        self.sock.connect((host, port))

    def mysend(self, msg):
        totalsent = 0
        while totalsent < len(msg):
            sent = self.sock.send(msg[totalsent:])
            if sent == 0:
                raise RuntimeError("socket connection broken")
            totalsent = totalsent + sent

    def myreceive(self, msglen):
        chunks = [self.pending[:msglen]]
        bytes_recd = len(chunks[0])
        self.pending = self.pending[msglen:]
        while bytes_recd < msglen:
            chunk = self.sock.recv(min(msglen - bytes_recd, CHUNK))
            if chunk == b"":
                raise RuntimeError("socket connection broken")
            chunks.append(chunk)
            bytes_recd = bytes_recd + len(chunk)
        return b"".join(chunks)

    def receive_until(self, delimiter, limit=65536):
        """Delimited messages: recv in chunks, scan, keep what follows the delimiter."""
        searched = 0
        while True:
            index = self.pending.find(delimiter, max(0, searched - len(delimiter) + 1))
            if index >= 0:
                message = self.pending[:index]
                self.pending = self.pending[index + len(delimiter) :]
                return message
            searched = len(self.pending)
            if searched > limit:
                raise RuntimeError("line too long")
            chunk = self.sock.recv(CHUNK)
            if chunk == b"":
                if self.pending:
                    raise RuntimeError("socket connection broken")
                return None
            self.pending += chunk

    def receive_to_eof(self):
        chunks = [self.pending]
        self.pending = b""
        while True:
            chunk = self.sock.recv(CHUNK)
            if chunk == b"":
                return b"".join(chunks)
            chunks.append(chunk)

    def at_eof(self):
        """True when the peer has shut down and nothing is left (recv returned 0 bytes)."""
        if self.pending:
            return False
        chunk = self.sock.recv(CHUNK)
        if chunk == b"":
            return True
        self.pending = chunk
        return False


def parse_framing(spec):
    kind, _, arg = spec.partition(":")
    if kind == "fixed":
        return ("fixed", int(arg))
    if kind == "digits":
        return ("digits", int(arg or "5"))
    if kind == "length":
        if arg not in ("", "u32be"):
            raise SystemExit("socket_peer: only length:u32be is supported")
        return ("length", 4)
    if kind == "line" and arg == "":
        return ("line", 0)
    if kind == "eof":
        return ("eof", 0)
    raise SystemExit("socket_peer: unsupported framing " + spec)


def encode(framing, payload):
    kind, size = framing
    if kind == "fixed":
        if len(payload) != size:
            raise SystemExit("socket_peer: fixed:%d needs %d-byte messages" % (size, size))
        return payload
    if kind == "digits":
        return str(len(payload)).zfill(size).encode("ascii") + payload
    if kind == "length":
        return struct.pack("!I", len(payload)) + payload
    if kind == "line":
        return payload + b"\n"
    return payload


def receive(ms, framing):
    """Returns one message, or None at a clean end of stream between messages."""
    kind, size = framing
    if kind in ("fixed", "digits", "length") and ms.at_eof():
        return None
    if kind == "fixed":
        return ms.myreceive(size)
    if kind == "digits":
        # Two recv loops: the first for the length, the second for the data. Nasty.
        header = ms.myreceive(size)
        if not header.isdigit():
            raise RuntimeError("bad length digits")
        return ms.myreceive(int(header))
    if kind == "length":
        (length,) = struct.unpack("!I", ms.myreceive(4))
        return ms.myreceive(length)
    if kind == "line":
        line = ms.receive_until(b"\n")
        if line is not None and line.endswith(b"\r"):
            line = line[:-1]
        return line
    return ms.receive_to_eof()


def client_thread(clientsocket, framing):
    ms = MySocket(clientsocket)
    try:
        if framing[0] == "eof":
            request = ms.receive_to_eof()
            ms.mysend(request)
            return
        while True:
            message = receive(ms, framing)
            if message is None:
                return
            ms.mysend(encode(framing, message))
    except (RuntimeError, OSError) as error:
        print("socket_peer: connection error: %s" % error, file=sys.stderr, flush=True)
    finally:
        clientsocket.close()


def serve(args):
    framing = parse_framing(args.framing)
    serversocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    serversocket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    serversocket.bind((args.host, args.port))
    serversocket.listen(5)
    print("listening %d" % serversocket.getsockname()[1], flush=True)
    while True:
        (clientsocket, _address) = serversocket.accept()
        ct = threading.Thread(target=client_thread, args=(clientsocket, framing), daemon=True)
        ct.start()


def report(message):
    print(json.dumps({"hex": message.hex(), "text": message.decode("utf-8", "replace")}), flush=True)


def client(args):
    framing = parse_framing(args.framing)
    messages = [bytes.fromhex(m) if args.hex else m.encode("utf-8") for m in args.messages]
    ms = MySocket()
    ms.sock.settimeout(args.timeout)
    ms.connect(args.host, args.port)
    if framing[0] == "eof":
        ms.mysend(b"".join(messages))
        ms.sock.shutdown(socket.SHUT_WR)  # "I'm not going to send anymore, but I'll still listen"
        report(ms.receive_to_eof())
        ms.sock.close()
        return
    for message in messages:
        ms.mysend(encode(framing, message))
    for _ in messages:
        reply = receive(ms, framing)
        if reply is None:
            raise SystemExit("socket_peer: connection closed before every reply arrived")
        report(reply)
    ms.sock.shutdown(socket.SHUT_WR)
    ms.sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--framing", required=True)
    parser.add_argument("--hex", action="store_true", help="messages are hex strings")
    parser.add_argument("--timeout", type=float, default=10.0, help="client socket timeout (s)")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_intermixed_args()
    if args.mode == "server":
        serve(args)
    else:
        client(args)


if __name__ == "__main__":
    main()
