#!/usr/bin/python3
"""Interop peer built on Twisted's basic protocols.

Run it with Debian's /usr/bin/python3 (python3-twisted), not a pyenv python3.

Framings (switchboard spec string -> Twisted protocol):
  line           LineReceiver, delimiter b"\\n" (a trailing CR is stripped)
  line:crlf      LineReceiver, delimiter b"\\r\\n" (Twisted's default)
  length:u32be   Int32StringReceiver ('!I' length prefix)
  netstring      NetstringReceiver

Usage:
  twisted_peer.py server --framing SPEC [--port 0]
      prints "listening PORT", echoes every frame on every connection until killed.
  twisted_peer.py client --port P --framing SPEC [--hex] MESSAGE...
      sends every message, prints one JSON line {"hex", "text"} per reply, exits 0
      (exit 1 when the connection fails or closes early, or after --timeout seconds).
"""

import argparse
import json
import sys

from twisted.internet import protocol, reactor
from twisted.protocols import basic

MAX_LENGTH = 1 << 20


class LfLineProtocol(basic.LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = MAX_LENGTH

    def lineReceived(self, line):
        if line.endswith(b"\r"):
            line = line[:-1]
        self.frameReceived(line)

    def sendFrame(self, payload):
        self.sendLine(payload)


class CrlfLineProtocol(basic.LineReceiver):
    delimiter = b"\r\n"
    MAX_LENGTH = MAX_LENGTH

    def lineReceived(self, line):
        self.frameReceived(line)

    def sendFrame(self, payload):
        self.sendLine(payload)


class Int32Protocol(basic.Int32StringReceiver):
    MAX_LENGTH = MAX_LENGTH

    def stringReceived(self, string):
        self.frameReceived(string)

    def sendFrame(self, payload):
        self.sendString(payload)


class NetstringProtocol(basic.NetstringReceiver):
    MAX_LENGTH = MAX_LENGTH

    def stringReceived(self, string):
        self.frameReceived(string)

    def sendFrame(self, payload):
        self.sendString(payload)


FRAMINGS = {
    "line": LfLineProtocol,
    "line:crlf": CrlfLineProtocol,
    "length": Int32Protocol,
    "length:u32be": Int32Protocol,
    "netstring": NetstringProtocol,
}


def make_echo(base):
    class Echo(base):
        def frameReceived(self, payload):
            self.sendFrame(payload)

    return Echo


def make_client(base, messages, done):
    class Client(base):
        def connectionMade(self):
            self.replies = 0
            for message in messages:
                self.sendFrame(message)
            if not messages:
                self.transport.loseConnection()

        def frameReceived(self, payload):
            print(
                json.dumps({"hex": payload.hex(), "text": payload.decode("utf-8", "replace")}),
                flush=True,
            )
            self.replies += 1
            if self.replies == len(messages):
                done["ok"] = True
                self.transport.loseConnection()

        def connectionLost(self, reason):
            if reactor.running:
                reactor.stop()

    return Client


class ClientFactory(protocol.ClientFactory):
    def __init__(self, protocol_class):
        self.protocol = protocol_class

    def clientConnectionFailed(self, connector, reason):
        print("twisted_peer: connect failed: %s" % reason.getErrorMessage(), file=sys.stderr)
        reactor.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--framing", required=True, choices=sorted(FRAMINGS))
    parser.add_argument("--hex", action="store_true", help="messages are hex strings")
    parser.add_argument("--timeout", type=float, default=10.0, help="client deadline (s)")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_intermixed_args()
    base = FRAMINGS[args.framing]

    if args.mode == "server":
        factory = protocol.Factory.forProtocol(make_echo(base))
        port = reactor.listenTCP(args.port, factory, interface=args.host)
        print("listening %d" % port.getHost().port, flush=True)
        reactor.run()
        return

    messages = [bytes.fromhex(m) if args.hex else m.encode("utf-8") for m in args.messages]
    done = {"ok": not messages}
    reactor.connectTCP(args.host, args.port, ClientFactory(make_client(base, messages, done)))
    reactor.callLater(args.timeout, reactor.stop)
    reactor.run()
    if not done["ok"]:
        print("twisted_peer: not every reply arrived", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
