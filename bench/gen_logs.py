#!/usr/bin/env python3
"""Writes a synthetic application log of about SIZE bytes (default 1 GiB) to
PATH, for `opsroom patterns` throughput runs: ISO timestamps, levels and 40
message kinds whose values are numbers, ids, IPs, hosts, paths, durations and
words drawn from small vocabularies, so some values have no digit.

usage: gen_logs.py PATH [SIZE_BYTES]
"""
import random
import sys
import uuid

path = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 30
rng = random.Random(12)

users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
services = ["payments", "checkout", "search", "auth", "billing", "catalog", "email"]
hosts = [f"{s}-{i}.prod.internal" for s in services for i in range(4)]
methods = ["GET", "POST", "PUT", "DELETE"]
uuids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(5000)]


def ip():
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


kinds = [
    ("INFO", lambda: f"request {rng.choice(methods)} /api/v1/orders/{rng.randrange(10**6)} from {ip()} took {rng.randrange(1, 900)} ms status={rng.choice([200, 201, 204])}"),
    ("INFO", lambda: f"user {rng.choice(users)} logged in from {ip()} session={rng.choice(uuids)}"),
    ("INFO", lambda: f"user {rng.choice(users)} logged out after {rng.randrange(5, 7200)} s"),
    ("DEBUG", lambda: f"cache hit for key order:{rng.randrange(10**6)} in {rng.random():.3f} ms"),
    ("DEBUG", lambda: f"cache miss for key product:{rng.randrange(10**5)} loading from db"),
    ("INFO", lambda: f"payment {rng.choice(uuids)} captured amount={rng.randrange(100, 99999)} currency=EUR"),
    ("WARN", lambda: f"payment {rng.choice(uuids)} retry {rng.randrange(1, 5)} of 5 after {rng.randrange(100, 3000)} ms"),
    ("ERROR", lambda: f"payment {rng.choice(uuids)} failed: card_declined (code {rng.choice([51, 54, 61])})"),
    ("ERROR", lambda: f"connection to {rng.choice(hosts)}:5432 refused after {rng.randrange(1, 30)} attempts"),
    ("INFO", lambda: f"worker {rng.randrange(64)} picked job {rng.randrange(10**7)} from queue {rng.choice(services)}"),
    ("INFO", lambda: f"job {rng.randrange(10**7)} finished in {rng.random() * 100:.2f} s with {rng.randrange(1000)} items"),
    ("WARN", lambda: f"slow query on table {rng.choice(['orders', 'users', 'items', 'events'])} took {rng.randrange(500, 9000)} ms rows={rng.randrange(10**5)}"),
    ("INFO", lambda: f"GC pause {rng.randrange(1, 400)} ms heap {rng.randrange(100, 4000)}M/{rng.choice([4096, 8192])}M"),
    ("INFO", lambda: f"served static file /var/www/assets/{rng.choice(['app', 'vendor', 'main'])}.{rng.getrandbits(32):08x}.js in {rng.randrange(1, 50)} ms"),
    ("ERROR", lambda: f"upstream {rng.choice(hosts)} returned 503 for {rng.choice(methods)} /internal/{rng.choice(services)}/health"),
    ("INFO", lambda: f"email sent to {rng.choice(users)}@example.com template={rng.choice(['welcome', 'receipt', 'reset'])} id={rng.randrange(10**8)}"),
    ("INFO", lambda: f"scheduled task {rng.choice(['cleanup', 'rollup', 'backup'])} started by {rng.choice(users)}"),
    ("WARN", lambda: f"rate limit reached for client {ip()} ({rng.randrange(100, 1000)} requests in 60 s)"),
    ("INFO", lambda: f"deployment {rng.getrandbits(40):010x} of {rng.choice(services)} reached {rng.randrange(1, 100)}% of pods"),
    ("FATAL", lambda: f"out of memory in {rng.choice(services)} process {rng.randrange(1000, 65000)}: killed"),
]
kinds += [
    (lvl, (lambda n: lambda: f"feature flag flag_{n} evaluated to {rng.choice(['true', 'false'])} for tenant {rng.randrange(10**4)}")(n))
    for n, lvl in enumerate(["DEBUG"] * 20)
]

written = 0
second = 1_714_550_400
with open(path, "w", buffering=1 << 20) as out:
    while written < size:
        chunk = []
        for _ in range(10000):
            second += rng.randrange(2)
            level, message = rng.choice(kinds)
            ms = rng.randrange(1000)
            hh, mm, ss = (second // 3600) % 24, (second // 60) % 60, second % 60
            day = 1 + (second // 86400) % 28
            chunk.append(f"2024-05-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}Z {level} {message()}\n")
        text = "".join(chunk)
        out.write(text)
        written += len(text)
