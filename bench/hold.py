"""Opens COUNT keep-alive connections to the server (each makes one request, then stays open
and idle), runs wrk against /health while they are held, and reports the server's resident
memory and wrk's requests/s."""
import argparse
import json
import resource
import socket
import subprocess
import time
from urllib.parse import urlparse


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    address = urlparse(args.url)
    request = f"GET /health HTTP/1.1\r\nHost: {address.hostname}\r\n\r\n".encode()
    held = []
    for _ in range(args.count):
        connection = socket.create_connection((address.hostname, address.port))
        connection.sendall(request)
        held.append(connection)
    answered = 0
    for connection in held:
        if connection.recv(4096).startswith(b"HTTP/1.1 200"):
            answered += 1
    before = rss_mb(args.pid)
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{args.wrk_seconds}s", "--latency", args.url + "/health"],
                         capture_output=True, text=True).stdout
    rps = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
    still_open = 0
    for connection in held:
        connection.sendall(request)
    for connection in held:
        if connection.recv(4096).startswith(b"HTTP/1.1 200"):
            still_open += 1
    print(json.dumps({"bench": "hold", "connections": args.count, "answered": answered, "still_open": still_open,
                      "rss_mb": max(before, rss_mb(args.pid)), "requests_per_s_meanwhile": rps}))
    for connection in held:
        connection.close()


if __name__ == "__main__":
    main()
