#!/usr/bin/env python3
"""Generate the golden vectors for switchboard's Python-struct port.

Run from the repository root:

    python3 scripts/gen-struct-fixtures.py

It writes test/fixtures/struct/*.json. Every expected value, byte string and error
message in those files comes from this interpreter's `struct` module, so the files
are only as good as the CPython that made them: use CPython 3.11 on x86-64 Linux
(native sizes and alignment are platform rules; the script refuses anything else).

JSON value encoding (decoded by test/binary/fixtures.ts):
  - bool            -> true / false
  - int             -> a JSON number when the field maps to a JS number and
                       |v| <= 2**53; otherwise {"bigint": "<decimal>"}
                       (8-byte fields: q Q n N P and native l L, always bigint)
  - float           -> a JSON number; {"float": "nan" | "inf" | "-inf"}
                       (-0.0 is written as -0.0 and parses to -0 in JS)
  - bytes/bytearray -> {"bytes": "<lowercase hex>"}
  - str             -> {"str": "..."} (only in error cases: CPython rejects str for bytes)
Packed output and unpack input are lowercase hex strings.
"""

import json
import math
import os
import platform
import random
import struct
import sys

if sys.version_info[:2] != (3, 11):
    sys.exit(f"need CPython 3.11, this is {platform.python_version()}")
if platform.machine() not in ("x86_64", "AMD64") or sys.platform != "linux":
    sys.exit("need x86-64 Linux: native sizes and alignment are platform rules")

OUT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "struct"))
META = {
    "generator": "scripts/gen-struct-fixtures.py",
    "python": platform.python_version(),
    "implementation": platform.python_implementation(),
    "platform": f"{sys.platform}-{platform.machine()}",
    "byteorder": sys.byteorder,
}

PREFIXES = ["", "@", "=", "<", ">", "!"]
NATIVE_ONLY = set("nNP")
INT_CODES = "bBhHiIlLqQnNP"
SPACE = " \t\n\r\x0b\x0c"
SAFE = 2**53

rng = random.Random(20261123)


def value_codes(fmt):
    """The format code of each value pack() takes, e.g. '<2hs' -> ['h', 'h', 's'].
    Native 'l'/'L' become 'q'/'Q' (8 bytes there) so encode() treats them as bigint."""
    native = True
    i = 0
    if fmt and fmt[0] in "@=<>!":
        native = fmt[0] == "@"
        i = 1
    codes = []
    while i < len(fmt):
        ch = fmt[i]
        i += 1
        if ch in SPACE:
            continue
        count = 1
        if ch.isdigit():
            j = i - 1
            while i < len(fmt) and fmt[i].isdigit():
                i += 1
            count = int(fmt[j:i])
            ch = fmt[i]
            i += 1
        if ch in "sp":
            codes.append(ch)
        elif ch != "x":
            if native and ch in "lL":
                ch = "q" if ch == "l" else "Q"
            codes.extend([ch] * count)
    return codes


def encode(value, code=None):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if code in ("q", "Q", "n", "N", "P") or abs(value) > SAFE:
            return {"bigint": str(value)}
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return {"float": "nan"}
        if math.isinf(value):
            return {"float": "inf" if value > 0 else "-inf"}
        return value
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, str):
        return {"str": value}
    raise TypeError(f"cannot encode {value!r}")


def encode_values(fmt, values):
    codes = value_codes(fmt)
    return [encode(v, codes[i] if i < len(codes) else None) for i, v in enumerate(values)]


def error_of(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - we record whatever CPython raises
        return {"error": type(exc).__name__, "message": str(exc)}
    return None


# ---------------------------------------------------------------------------
# Case collection
# ---------------------------------------------------------------------------

pack_cases = []
unpack_cases = []
calcsize_cases = []
error_cases = []
seen_pack = set()


def add_pack(fmt, *values, note=None):
    """A pack case that must succeed; also records what unpack returns for the bytes."""
    key = (fmt, repr(values))
    if key in seen_pack:
        return
    seen_pack.add(key)
    packed = struct.pack(fmt, *values)
    case = {
        "format": fmt,
        "values": encode_values(fmt, values),
        "hex": packed.hex(),
        "unpacked": encode_values(fmt, struct.unpack(fmt, packed)),
    }
    if struct.pack(fmt, *struct.unpack(fmt, packed)) != packed:
        # e.g. '300p' with 290 bytes: 290 are written but the length byte says 255.
        case["roundTrip"] = False
    if note:
        case["note"] = note
    pack_cases.append(case)


def add_unpack(fmt, data, note=None):
    case = {"format": fmt, "hex": data.hex(), "values": encode_values(fmt, struct.unpack(fmt, data))}
    if note:
        case["note"] = note
    unpack_cases.append(case)


def add_calcsize(fmt):
    calcsize_cases.append({"format": fmt, "size": struct.calcsize(fmt)})


def add_error(kind, fmt, **fields):
    """An operation CPython rejects. kind: pack|unpack|calcsize|pack_into|unpack_from|iter_unpack."""
    if kind == "pack":
        values = fields["values"]
        err = error_of(lambda: struct.pack(fmt, *values))
        record = {"values": encode_values(fmt, values)}
    elif kind == "unpack":
        data = fields["data"]
        err = error_of(lambda: struct.unpack(fmt, data))
        record = {"hex": data.hex()}
    elif kind == "calcsize":
        err = error_of(lambda: struct.calcsize(fmt))
        record = {}
    elif kind == "pack_into":
        size, offset, values = fields["size"], fields["offset"], fields["values"]
        err = error_of(lambda: struct.pack_into(fmt, bytearray(size), offset, *values))
        record = {"bufferSize": size, "offset": offset, "values": encode_values(fmt, values)}
    elif kind == "unpack_from":
        data, offset = fields["data"], fields["offset"]
        err = error_of(lambda: struct.unpack_from(fmt, data, offset))
        record = {"hex": data.hex(), "offset": offset}
    elif kind == "iter_unpack":
        data = fields["data"]
        err = error_of(lambda: list(struct.iter_unpack(fmt, data)))
        record = {"hex": data.hex()}
    else:
        raise ValueError(kind)
    if err is None:
        raise AssertionError(f"expected {kind}({fmt!r}, {fields!r}) to fail")
    error_cases.append({"kind": kind, "format": fmt, **record, **err})


def int_bounds(prefix, code):
    size = struct.calcsize(prefix + code)
    if code == "P":
        return 0, 2 ** (8 * size) - 1
    if code.islower():
        return -(2 ** (8 * size - 1)), 2 ** (8 * size - 1) - 1
    return 0, 2 ** (8 * size) - 1


def codes_for(prefix):
    chars = "xcbB?hHiIlLqQefdsp"
    if prefix in ("", "@"):
        chars += "nNP"
    return chars


# --- every format character under every prefix -----------------------------

FLOAT_SAMPLES = [0.0, -0.0, 1.0, -1.0, 1.5, -2.25, 0.1, math.pi, 1e10, -1e-10, 65504.0,
                 float("inf"), float("-inf"), float("nan"), 5e-324, 1.7976931348623157e308,
                 3.4028234663852886e38, 1.401298464324817e-45, 1e-46, 16777217.0]

for prefix in PREFIXES:
    for code in codes_for(prefix):
        fmt = prefix + code
        if code == "x":
            add_pack(fmt)
        elif code == "c":
            for b in (b"\x00", b"a", b"\xff"):
                add_pack(fmt, b)
        elif code == "?":
            for v in (True, False, 0, 1, 2, -1, 0.0, 0.5, "", "a"):
                add_pack(fmt, v)
        elif code in "sp":
            for b in (b"", b"a", b"ab"):
                add_pack(fmt, b)
        elif code in INT_CODES:
            lo, hi = int_bounds(prefix, code)
            for v in sorted({lo, hi, 0, 1, -1, lo // 2, hi // 3, 100}):
                if lo <= v <= hi:
                    add_pack(fmt, v)
            add_pack(fmt, True)
            add_pack(fmt, False)
        elif code == "e":
            for v in (0.0, -0.0, 1.0, -2.0, 0.5, 65504.0, -65504.0, 6.103515625e-05, 5.960464477539063e-08,
                      float("inf"), float("-inf"), float("nan"), 0.1, 3.14159, 1, True):
                add_pack(fmt, v)
        elif code == "f":
            for v in FLOAT_SAMPLES + [3, True]:
                if prefix in ("", "@") or not (math.isfinite(v) and abs(v) > 3.4028235677973366e38):
                    add_pack(fmt, v)
        elif code == "d":
            for v in FLOAT_SAMPLES + [3, -(2**70), True]:
                add_pack(fmt, v)
        else:
            raise AssertionError(code)

# --- repeat counts -------------------------------------------------------------

for prefix in PREFIXES:
    add_pack(prefix + "4h", 1, -2, 3, -4)
    add_pack(prefix + "3H", 0, 65535, 256)
    add_pack(prefix + "2i2I", -5, 7, 9, 4000000000)
    add_pack(prefix + "2q", -(2**63), 2**63 - 1)
    add_pack(prefix + "2Q", 0, 2**64 - 1)
    add_pack(prefix + "3?", True, False, 7)
    add_pack(prefix + "2c", b"a", b"b")
    add_pack(prefix + "0h")
    add_pack(prefix + "0s", b"abc")
    add_pack(prefix + "0c")
    add_pack(prefix + "3x")
    add_pack(prefix + "0x")
    add_pack(prefix + "10s", b"hello")
    add_pack(prefix + "3e", 1.0, -0.5, 1000.0)
    add_pack(prefix + "2f2d", 1.5, -2.5, 1e100, -1e-100)
    add_pack(prefix + "b 2h\tI", 1, 2, 3, 4, note="whitespace between items")
    add_pack(prefix + "12B", *range(12))

# --- s / p padding and truncation ------------------------------------------------

for prefix in ("", "<", ">"):
    for n in (1, 2, 3, 5, 10):
        for data in (b"", b"x", b"abc", b"0123456789abcdef"):
            add_pack(f"{prefix}{n}s", data)
            add_pack(f"{prefix}{n}p", data)
    # "0p" is left out: CPython packs it, but unpacking it raises SystemError.
    add_pack(prefix + "256p", b"z" * 300, note="length byte capped at 255")
    add_pack(prefix + "300p", b"y" * 290, note="length byte capped at 255")
    add_pack(prefix + "255p", b"q" * 254)
    add_pack(prefix + "5s", bytearray(b"ab"))
    add_pack(prefix + "s3sp4p", b"a", b"bcd", b"e", b"fgh")

# --- half floats ---------------------------------------------------------------

HALF_SPECIAL = [
    0.0, -0.0, float("inf"), float("-inf"), float("nan"),
    65504.0, -65504.0, 65519.99, 65519.0, 65505.0,           # max, and values rounding down to it
    2**-14, 2**-14 - 2**-24, 2**-24, 2**-25, 2**-25 * 1.0001, 2**-26, 3 * 2**-25, 5 * 2**-25,
    2**-24 * 1.5, 2**-24 * 2.5, 1e-8, 1e-7, -1e-7, 6e-8,
    1.0 + 2**-11, 1.0 + 3 * 2**-11, 1.0 + 2**-11 + 2**-40, 1.0 + 2**-12,  # round half to even
    2048.5, 2049.0, 2051.0, 4097.0, 4099.0, 0.333251953125, 0.1, 0.2, 0.3,
    1.9995117187500002, 1.99951171875, 2047.9999, 1e-300, -1e-300, 5e-324,
]
for v in HALF_SPECIAL:
    for prefix in ("<", ">", "@"):
        add_pack(prefix + "e", v)
for _ in range(150):
    # Random halves and exact midpoints between neighbours (ties go to even).
    bits = rng.randrange(0, 0x7C00)
    lo = struct.unpack("<e", struct.pack("<H", bits))[0]
    hi = struct.unpack("<e", struct.pack("<H", bits + 1))[0]
    mid = (lo + hi) / 2
    sign = rng.choice((1, -1))
    add_pack("<e", sign * lo)
    add_pack(">e", sign * mid)
    add_pack("<e", sign * (mid + (hi - lo) * 1e-6))
    add_pack("<e", sign * (mid - (hi - lo) * 1e-6))
    add_pack("<e", sign * rng.uniform(lo, hi))
for bits in list(range(0, 0x10000, 97)) + [0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0x7C01, 0x7DFF,
                                            0x7E00, 0x7FFF, 0x8000, 0x8001, 0xFBFF, 0xFC00, 0xFC01, 0xFE00, 0xFFFF]:
    add_unpack("<e", struct.pack("<H", bits))
    add_unpack(">e", struct.pack(">H", bits))

# --- float single precision overflow edge and rounding ------------------------

for v in (3.4028235677973362e38, 3.4028235677973366e38 - 2**103, 1.0000000596046448, 1.00000017881393432617,
          1e-45, 7e-46, 2.0**-149, 2.0**-150, 2.0**-150 * 1.000001, 123456789.0):
    for prefix in ("<", ">", "@", "="):
        add_pack(prefix + "f", v)
add_pack("@f", 1e300, note="native f casts to float: overflow becomes inf")
add_pack("@f", -1e39, note="native f casts to float: overflow becomes -inf")
add_pack("f", 3.4028235677973366e38, note="native f casts to float: overflow becomes inf")

# --- bool truthiness in unpack, pascal length bytes, NaN payloads --------------

for b in (0, 1, 2, 0x80, 0xFF):
    add_unpack("?", bytes([b]))
    add_unpack(">?", bytes([b]))
add_unpack("3?", b"\x00\x05\x01")
for data in (b"\x00abc", b"\x01abc", b"\x03abc", b"\x04abc", b"\xffabc"):
    add_unpack("4p", data, note="the length byte is capped at size - 1")
add_unpack("1p", b"\x07")
add_unpack("<f", bytes.fromhex("0100807f"), note="signalling NaN payload")
add_unpack("<d", bytes.fromhex("010000000000f07f"), note="NaN payload")
add_unpack(">d", bytes.fromhex("fff8000000000000"), note="negative NaN")
add_unpack("<f", bytes.fromhex("01000000"), note="smallest subnormal float")
add_unpack("@bhiq", bytes(range(16)))
add_unpack("@P", bytes.fromhex("ffffffffffffffff"))
add_unpack("@n", bytes.fromhex("ffffffffffffffff"))
add_unpack("@N", bytes.fromhex("ffffffffffffffff"))
add_unpack("@l", bytes.fromhex("feffffffffffffff"))
add_unpack("<l", bytes.fromhex("feffffff"))

# --- native alignment ----------------------------------------------------------

ALIGN_FORMATS = {
    "bhiq": (1, 2, 3, 4),
    "ci": (b"z", -7),
    "?d": (True, 2.5),
    "hq": (-3, 2**40),
    "qh": (5, 6),
    "bH": (1, 2),
    "bI": (1, 2),
    "bl": (1, 2),
    "bL": (1, 2),
    "bn": (1, -2),
    "bN": (1, 2),
    "bP": (1, 0xDEADBEEF),
    "be": (1, 0.5),
    "bf": (1, 0.25),
    "bd": (1, 0.125),
    "xq": (9,),
    "3sI": (b"abc", 1),
    "5sd": (b"hello", 1.0),
    "4pq": (b"ab", -1),
    "e?e": (1.0, True, 2.0),
    "llh": (1, 2, 3),
    "llh0l": (1, 2, 3),
    "b0i": (1,),
    "b0q": (1,),
    "c2h": (b"a", 1, 2),
    "?3i": (False, 1, 2, 3),
    "bhbibqbd": (1, 2, 3, 4, 5, 6, 7, 8.0),
    "iq?": (1, 2, True),
    "ib": (1, 2),
    "b x h": (1, 2),
}
for body, values in ALIGN_FORMATS.items():
    for prefix in PREFIXES:
        fmt = prefix + body
        if prefix not in ("", "@") and set(body) & NATIVE_ONLY:
            continue
        add_pack(fmt, *values)

# --- randomized mixed formats (seeded) ------------------------------------------


def random_value(prefix, code, count):
    if code == "x":
        return []
    if code in "sp":
        return [bytes(rng.randrange(256) for _ in range(rng.randrange(0, count + 3)))]
    out = []
    for _ in range(count):
        if code == "c":
            out.append(bytes([rng.randrange(256)]))
        elif code == "?":
            out.append(rng.random() < 0.5)
        elif code in INT_CODES:
            lo, hi = int_bounds(prefix, code)
            choice = rng.random()
            if choice < 0.2:
                out.append(rng.choice((lo, hi, 0)))
            else:
                out.append(rng.randint(lo, hi))
        elif code == "e":
            out.append(struct.unpack("<e", struct.pack("<H", rng.randrange(0, 0x7C00)))[0] * rng.choice((1, -1)))
        elif code == "f":
            out.append(struct.unpack("<f", struct.pack("<I", rng.randrange(0, 0x7F800000)))[0] * rng.choice((1, -1)))
        else:
            out.append(rng.uniform(-1e12, 1e12))
    return out


for _ in range(250):
    prefix = rng.choice(PREFIXES)
    chars = codes_for(prefix)
    fmt = prefix
    values = []
    for _ in range(rng.randrange(1, 7)):
        code = rng.choice(chars)
        count = rng.choice((1, 1, 1, 2, 3, 0)) if code not in "sp" else rng.randrange(0 if code == "s" else 1, 9)
        fmt += ("" if count == 1 and code not in "sp" else str(count)) + code
        values.extend(random_value(prefix, code, count))
    add_pack(fmt, *values, note="seeded random")

# --- calcsize -------------------------------------------------------------------

for prefix in PREFIXES:
    for code in codes_for(prefix):
        add_calcsize(prefix + code)
    for body in ALIGN_FORMATS:
        if prefix not in ("", "@") and set(body) & NATIVE_ONLY:
            continue
        add_calcsize(prefix + body)
for fmt in ("", "@", "<", "0s", "0p", "0x", "10x", "3s", "3p", "1000h", "<1000q", "@1000q",
            "@llh0l", "@b0i", "@c0d", "@bhiq", "=bhiq", "<bhiq", ">bhiq", "!bhiq", "\th\n", "< h",
            "<h ", "h\x0bh", "\x0ch", "q h", "@b e", "@s2c0?3e", "@5p0P", "@bn", "@bN", "@bP",
            "@7sq", "@7s0q", "@i i", "9007199254740991x", "1125899906842623q"):
    # Sizes stay below 2**53: switchboard reports "total struct size too long" beyond
    # Number.MAX_SAFE_INTEGER, where CPython's limit is 2**63 - 1.
    add_calcsize(fmt)

# --- errors -----------------------------------------------------------------------

# Bad formats (calcsize, pack and unpack all parse the same way).
for fmt in ("z", "4", "h4", " <h", "4 h", "<n", "<N", "<P", ">n", ">N", ">P", "=n", "=N", "=P",
            "!P", "h\x00h", "hz", "<<h", "@=", "hh@", "99999999999999999999h",
            "4611686018427387904h", "2305843009213693952q", "@3000000000000000000q", "s x 1", "-1h", "+h"):
    add_error("calcsize", fmt)
add_error("pack", "z", values=[1])
add_error("unpack", "h4", data=b"\x00\x00")
add_error("unpack", "<P", data=b"\x00" * 8)

# Wrong number of values.
for fmt, values in (("hh", [1]), ("h", [1, 2]), ("x", [1]), ("", [1]), ("3s", []), ("0s", []),
                    ("2s", [b"a", b"b"]), ("0h", [1]), ("@bq", [1]), ("4B", [1, 2, 3])):
    add_error("pack", fmt, values=values)

# Integer boundaries: min-1, max+1 (and the C conversion limits beyond them).
for prefix in PREFIXES:
    for code in INT_CODES:
        if prefix not in ("", "@") and code in NATIVE_ONLY:
            continue
        fmt = prefix + code
        lo, hi = int_bounds(prefix, code)
        if code == "P":
            lo = -(2**63)  # CPython packs negative pointers as two's complement
        add_pack(fmt, lo)
        add_pack(fmt, hi)
        candidates = {lo - 1, hi + 1, -1, -(2**63) - 1, 2**63, 2**64, -(2**64), 2**64 - 1, -(2**63), 2**63 - 1,
                      2**31, -(2**31) - 1, 2**32, 2**16, 2**15, -(2**15) - 1, 256, -129, 2**100, -(2**100)}
        for v in sorted(candidates):
            try:
                struct.pack(fmt, v)
            except struct.error:
                add_error("pack", fmt, values=[v])
            else:
                add_pack(fmt, v)
        # Not 1.0: CPython rejects an integral float, but JS has no such thing (1.0 === 1).
        for bad in (1.5, -0.5, 1e-300, float("nan"), float("inf"), float("-inf"), "1", b"\x01"):
            add_error("pack", fmt, values=[bad])
    add_error("pack", prefix + "hh", values=[1, 2**20])
    add_error("pack", prefix + "hh", values=[2**20, "x"])

# Floats.
for prefix in PREFIXES:
    for code in "efd":
        fmt = prefix + code
        for bad in ("x", b"x", 10**400, -(10**400)):
            add_error("pack", fmt, values=[bad])
    for big in (65520.0, -65520.0, 1e10, 65536.0, 1e300, float(2**16 - 16)):
        add_error("pack", prefix + "e", values=[big])
    if prefix not in ("", "@"):
        for big in (1e300, -1e39, 3.4028235677973366e38, 2.0**128):
            add_error("pack", prefix + "f", values=[big])

# Bytes formats.
for prefix in ("", "<", ">"):
    for fmt, bad in (("c", b"ab"), ("c", b""), ("c", "a"), ("c", 97), ("s", "a"), ("s", 1), ("3s", "abc"),
                     ("p", "a"), ("5p", 5), ("0s", "x")):
        add_error("pack", prefix + fmt, values=[bad])

# Unpack buffer sizes.
for fmt, data in (("h", b"\x00"), ("h", b"\x00\x00\x00"), ("", b"\x00"), ("@bq", b"\x00" * 9),
                  ("<bq", b"\x00" * 16), ("3s", b"ab"), ("x", b""), ("@llh0l", b"\x00" * 18)):
    add_error("unpack", fmt, data=data)

# unpack_from / pack_into bounds (negative offsets count from the end, as in CPython).
for fmt, size, offset in (("h", 4, -5), ("h", 4, -1), ("h", 4, 3), ("h", 4, 10), ("8s", 4, -5), ("8s", 4, -3),
                          ("i", 3, 0), ("q", 8, 1), ("q", 0, 0)):
    values = [b"x"] if "s" in fmt else [1]
    add_error("pack_into", fmt, size=size, offset=offset, values=values)
    add_error("unpack_from", fmt, data=bytes(range(size)), offset=offset)
add_error("pack_into", "h", size=4, offset=0, values=[])
add_error("pack_into", "hh", size=4, offset=0, values=[1, 2, 3])
add_error("pack_into", "h", size=4, offset=0, values=[99999])

# iter_unpack.
add_error("iter_unpack", "", data=b"")
add_error("iter_unpack", "x0h", data=b"\x00")
add_error("iter_unpack", "0s", data=b"")
add_error("iter_unpack", "h", data=b"abc")
add_error("iter_unpack", "<i", data=b"\x00" * 6)

# --- pack_into / unpack_from / iter_unpack successes -----------------------------

into_cases = []
for fmt, size, offset, values in (("<h", 4, 0, [1]), ("<h", 4, 2, [-2]), ("<h", 4, -2, [3]), ("<h", 4, -4, [4]),
                                  (">I", 8, 3, [0xDEADBEEF]), ("@bq", 20, 2, [1, -1]), ("3x", 5, 1, []),
                                  ("<2s", 4, 1, [b"z"]), ("@?d", 16, 0, [True, 1.5])):
    buf = bytearray(b"\xaa" * size)
    struct.pack_into(fmt, buf, offset, *values)
    into_cases.append({"kind": "pack_into", "format": fmt, "bufferSize": size, "fill": "aa", "offset": offset,
                       "values": encode_values(fmt, values), "hex": bytes(buf).hex()})
for fmt, data, offset in (("<h", bytes(range(6)), 0), ("<h", bytes(range(6)), 4), ("<h", bytes(range(6)), -2),
                          (">q", bytes(range(12)), 3), ("@?d", bytes(range(20)), 4), ("", b"abc", 3),
                          ("2s", b"abcdef", -6)):
    into_cases.append({"kind": "unpack_from", "format": fmt, "hex": data.hex(), "offset": offset,
                       "values": encode_values(fmt, struct.unpack_from(fmt, data, offset))})
for fmt, data in (("<h", bytes(range(6))), (">hB", bytes(range(9))), ("2s", b"abcdef"), ("<q", bytes(range(16))),
                  ("<h", b"")):
    into_cases.append({"kind": "iter_unpack", "format": fmt, "hex": data.hex(),
                       "values": [encode_values(fmt, t) for t in struct.iter_unpack(fmt, data)]})

# ---------------------------------------------------------------------------
# Write
# ---------------------------------------------------------------------------


def write(name, cases):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path, "w", encoding="utf-8") as fh:
        # One case per line keeps diffs of regenerated fixtures readable.
        fh.write('{"meta":' + json.dumps(META, sort_keys=True) + ',\n"cases":[\n')
        fh.write(",\n".join(json.dumps(case, allow_nan=False, separators=(",", ":")) for case in cases))
        fh.write("\n]}\n")
    print(f"{path}: {len(cases)} cases")


write("pack.json", pack_cases)
write("unpack.json", unpack_cases)
write("calcsize.json", calcsize_cases)
write("errors.json", error_cases)
write("buffers.json", into_cases)
