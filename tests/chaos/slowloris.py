#!/usr/bin/env python3
"""Holds COUNT half-sent HTTP requests open against HOST:PORT for SECONDS, reopening any the server
closes, then prints "opened N closed-by-server M". A metrics server without header timeouts or a
connection limit runs out of file descriptors under this."""
import resource
import socket
import sys
import time

host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 256), hard))
opened = closed = 0
conns = []


def open_one():
    global opened
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return None
    opened += 1
    return s


for _ in range(count):
    s = open_one()
    if s:
        conns.append(s)
time.sleep(0.2)
for s in conns:
    try:
        s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")   # never finished
    except OSError:
        pass
deadline = time.time() + seconds
while time.time() < deadline:
    alive = []
    for s in conns:
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                raise ConnectionError
            alive.append(s)
        except BlockingIOError:
            alive.append(s)
        except OSError:
            closed += 1
            s.close()
            n = open_one()
            if n:
                try:
                    n.send(b"GET /metrics HTTP/1.1\r\n")
                except OSError:
                    pass
                alive.append(n)
    conns = alive
    time.sleep(0.5)
print(f"opened {opened} closed-by-server {closed}")
