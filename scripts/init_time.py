"""Start-up time of Lambda function binaries: from process start to the first poll of the Lambda
runtime API (GET /2018-06-01/runtime/invocation/next), which is where Lambda's Init phase ends.
A local stand-in for the runtime API records that poll; the function is stopped then. Prints one
JSON line per binary: the median and minimum over RUNS starts, and the stripped size.

usage: python3 scripts/init_time.py RUNS BINARY...
"""
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

polled = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            polled.set()
        # Never hand out an invocation: the measurement ends at the first poll.
        time.sleep(5)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def environment(port):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "init-time",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "init-time",
        "AWS_SECRET_ACCESS_KEY": "init-time",
        # What the product's functions read at start (made-up values).
        "WECHAT_COMPONENT_APPID": "wxd0000000000bench",
        "WECHAT_COMPONENT_SECRET": "bench-secret",
        "WECHAT_TOKEN": "bench-token",
        "WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "TABLE_NAME": "bench",
        "API_KEY_SHA256": "0" * 64,
        "RUST_LOG": "error",
    }
    return env


def one_start(binary, env):
    polled.clear()
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = polled.wait(timeout=20)
    elapsed = time.perf_counter() - started
    process.kill()
    process.wait()
    if not ok:
        raise SystemExit(f"{binary} never polled the runtime API")
    return elapsed


def stripped_size(binary):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "stripped")
        strip = shutil.which("strip")
        if strip is None:
            return os.path.getsize(binary)
        subprocess.run([strip, "-o", out, binary], check=True)
        return os.path.getsize(out)


def main():
    runs = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = environment(server.server_address[1])
    for binary in sys.argv[2:]:
        one_start(binary, env)  # warm the page cache
        times = [one_start(binary, env) for _ in range(runs)]
        print(json.dumps({
            "binary": os.path.basename(binary),
            "init_median_ms": round(statistics.median(times) * 1000, 2),
            "init_min_ms": round(min(times) * 1000, 2),
            "stripped_bytes": stripped_size(binary),
        }), flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
