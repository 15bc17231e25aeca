#!/usr/bin/env python3
"""WebSocket echo load for bench/run: N connections, each sending a 32-byte text message and
waiting for its echo, for D seconds; prints one JSON line: messages, messages/s, p99 round
trip (ms), errors. A raw-socket client on asyncio (uvloop when importable), split over a few
processes so that the client is not what limits the figure.

    bench/ws_echo_load.py --port 8000 [--path /] [--connections 50] [--duration 10] [--processes 2]
"""

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import struct
import time

PAYLOAD = b"0123456789abcdef0123456789abcdef"
MASK = os.urandom(4)
# One masked text frame, built once: every message is the same.
FRAME = bytes([0x81, 0x80 | len(PAYLOAD)]) + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(PAYLOAD))


def masked(opcode, payload):
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


async def connection(port, path, deadline, latencies, errors):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            errors.append(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            return
        while time.monotonic() < deadline:
            sent = time.perf_counter()
            writer.write(FRAME)
            while True:
                first, second = await reader.readexactly(2)
                n = second & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await reader.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await reader.readexactly(8))[0]
                payload = await reader.readexactly(n)
                opcode = first & 0x0F
                if opcode == 0x9:  # the server's keep-alive ping
                    writer.write(masked(0xA, payload))
                    continue
                if opcode == 0x8:
                    errors.append("closed by the server")
                    return
                break
            latencies.append(time.perf_counter() - sent)
        writer.write(masked(0x8, struct.pack("!H", 1000)))
        writer.close()
    except (OSError, asyncio.IncompleteReadError) as e:
        errors.append(type(e).__name__)


async def drive(port, path, connections, duration):
    latencies, errors = [], []
    deadline = time.monotonic() + duration
    await asyncio.gather(*(connection(port, path, deadline, latencies, errors) for _ in range(connections)))
    return latencies, errors


def process(port, path, connections, duration, out):
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    latencies, errors = asyncio.run(drive(port, path, connections, duration))
    out.send((latencies, errors))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    pipes, procs = [], []
    for i in range(args.processes):
        share = args.connections // args.processes + (1 if i < args.connections % args.processes else 0)
        reader, writer = multiprocessing.Pipe(duplex=False)
        p = multiprocessing.Process(target=process, args=(args.port, args.path, share, args.duration, writer))
        p.start()
        pipes.append(reader)
        procs.append(p)
    latencies, errors = [], []
    for reader, p in zip(pipes, procs):
        got, failed = reader.recv()
        latencies += got
        errors += failed
        p.join()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    print(json.dumps({"messages": len(latencies), "rate": len(latencies) / args.duration,
                      "p99_ms": p99, "errors": errors[:3] + (["... %d in all" % len(errors)] if len(errors) > 3 else [])}))


if __name__ == "__main__":
    main()
