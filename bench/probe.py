#!/usr/bin/env python3
"""Clients for bench/probe.sh, loopback only (127.0.0.1), each bounded in time and count.

    probe.py storm  PORT N HOLD_SECS    N idle keep-alive connections, each served one
                                        request, held HOLD_SECS, then closed
    probe.py drip   PORT N SECS         N POSTs whose bodies arrive a byte a second;
                                        prints how each ended
    probe.py get    PORT [PATH]         one GET; prints the status and the latency

Prints one JSON object per run on stdout. Not a test: nothing here asserts.
"""

import json
import selectors
import socket
import sys
import time

HOST = "127.0.0.1"
REQUEST = b"GET / HTTP/1.1\r\nHost: probe\r\n\r\n"


def storm(port, n, hold):
    """Opens n connections, sends each one keep-alive request, reads the responses,
    holds the connections idle for hold seconds, then closes them all."""
    sel = selectors.DefaultSelector()
    conns, refused, errors = [], 0, 0
    started = time.monotonic()
    for _ in range(n):
        try:
            s = socket.create_connection((HOST, port), timeout=10)
        except OSError:
            errors += 1
            continue
        s.setblocking(False)
        try:
            s.send(REQUEST)
        except OSError:
            errors += 1
            s.close()
            continue
        conns.append(s)
        sel.register(s, selectors.EVENT_READ, bytearray())
    answered = 0
    deadline = time.monotonic() + 60
    pending = len(conns)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            buf = key.data
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if data:
                buf.extend(data)
            if not data or buf.endswith(b"0\r\n\r\n") or b"\r\n\r\nToo many" in buf:
                if buf.startswith(b"HTTP/1.1 200"):
                    answered += 1
                elif buf.startswith(b"HTTP/1.1 503"):
                    refused += 1
                else:
                    errors += 1
                sel.unregister(key.fileobj)
                pending -= 1
    opened = time.monotonic() - started
    time.sleep(hold)
    for s in conns:
        s.close()
    print(json.dumps({"connections": n, "answered": answered, "refused_503": refused,
                      "errors": errors, "open_secs": round(opened, 2)}))


def drip(port, n, secs):
    """n POSTs declaring a 1000-byte body, sending one byte a second for secs seconds;
    reports what each got back."""
    socks = []
    for _ in range(n):
        s = socket.create_connection((HOST, port), timeout=10)
        s.send(b"POST / HTTP/1.1\r\nHost: probe\r\nContent-Length: 1000\r\n\r\n")
        s.setblocking(False)
        socks.append(s)
    answers = [b""] * n
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for i, s in enumerate(socks):
            try:
                s.send(b"x")
            except OSError:
                pass
            try:
                answers[i] += s.recv(4096)
            except OSError:
                pass
        time.sleep(1)
    statuses = {}
    for a in answers:
        status = a.split(b"\r\n", 1)[0].decode("latin-1") or "(nothing yet)"
        statuses[status] = statuses.get(status, 0) + 1
    for s in socks:
        s.close()
    print(json.dumps({"drips": n, "secs": secs, "answers": statuses}))


def get(port, path="/"):
    started = time.monotonic()
    s = socket.create_connection((HOST, port), timeout=30)
    s.send(f"GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    status = data.split(b"\r\n", 1)[0].decode("latin-1")
    print(json.dumps({"status": status, "ms": round((time.monotonic() - started) * 1000, 1)}))


if __name__ == "__main__":
    what, port = sys.argv[1], int(sys.argv[2])
    if what == "storm":
        storm(port, int(sys.argv[3]), float(sys.argv[4]))
    elif what == "drip":
        drip(port, int(sys.argv[3]), float(sys.argv[4]))
    elif what == "get":
        get(port, *sys.argv[3:4])
    else:
        sys.exit(f"unknown probe {what!r}")
