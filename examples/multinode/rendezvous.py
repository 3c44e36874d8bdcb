#!/usr/bin/env python3
"""What ``torchrun``'s static rendezvous does, without torch: every rank of a multi-node AICC job meets at
``MASTER_ADDR:MASTER_PORT`` and they all-reduce a value (each rank's ``RANK + 1``; the sum is printed).

Rank 0 listens; the others connect (retrying while rank 0 comes up) and send their rank and value; rank 0
sends back the sum. A rank that never arrives ends it with the missing ranks named, exit code 3.

    aicc submit --accelerators 8 -- python3 rendezvous.py     # a gang over two 4-GPU nodes
    RENDEZVOUS_TIMEOUT_S=60 (default) ; RENDEZVOUS_STALL_RANK=1 makes rank 1 never come (to test the error)
"""

from __future__ import annotations

import os
import socket
import sys
import time


def main() -> int:
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    timeout = float(os.environ.get("RENDEZVOUS_TIMEOUT_S", "60"))
    where = f"node {os.environ.get('NODE_RANK')} local {os.environ.get('LOCAL_RANK')}"
    if os.environ.get("RENDEZVOUS_STALL_RANK") == str(rank):
        time.sleep(timeout * 4)
        return 0
    value = rank + 1
    if rank == 0:
        total = value
        with socket.create_server((addr, port)) as server:
            server.settimeout(timeout)
            peers: dict[int, socket.socket] = {}
            deadline = time.monotonic() + timeout
            while len(peers) < world - 1:
                server.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    missing = sorted(set(range(1, world)) - set(peers))
                    print(f"rank 0: rank(s) {', '.join(map(str, missing))} never reached the rendezvous at "
                          f"{addr}:{port} within {timeout:g} s", file=sys.stderr, flush=True)
                    return 3
                peer_rank, peer_value = map(int, conn.makefile().readline().split())
                peers[peer_rank] = conn
                total += peer_value
            for conn in peers.values():
                conn.sendall(f"{total}\n".encode())
                conn.close()
    else:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = socket.create_connection((addr, port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    print(f"rank {rank}: rank 0 never opened the rendezvous at {addr}:{port} within {timeout:g} s",
                          file=sys.stderr, flush=True)
                    return 3
                time.sleep(0.1)
        with conn:
            conn.sendall(f"{rank} {value}\n".encode())
            total = int(conn.makefile().readline())
    print(f"rank {rank} of {world} ({where}) sum {total}", flush=True)
    return 0 if total == world * (world + 1) // 2 else 4


if __name__ == "__main__":
    sys.exit(main())
