#!/usr/bin/env python3
"""Slow and greedy clients against a running jwtauth-server on 127.0.0.1:PORT (bounded:
300 sockets, half of them with half-sent headers, at most ~25 s). Prints how many the
server closed, whether /healthz answers during the flood, and how many it still holds
after server.header_read_timeout. Usage: scripts/slow-clients.py PORT"""
import socket, sys, time, urllib.request
port = int(sys.argv[1])
socks, closed = [], 0
for i in range(300):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if i % 2 == 0:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # half-sent headers
    socks.append(s)
time.sleep(1.0)
for s in socks:
    s.settimeout(0.2)
    try:
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
print(f"opened 300, closed by server at once: {closed}, held: {300 - closed}")
t0 = time.time()
print("healthz during flood:", urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status)
deadline = time.time() + 20
while time.time() < deadline:
    held = 0
    for s in socks:
        try:
            if s.recv(1) != b"":
                held += 1
        except socket.timeout:
            held += 1
        except OSError:
            pass
    if held == 0:
        break
print(f"held after header_read_timeout: {held} ({time.time()-t0:.1f}s after the flood)")
