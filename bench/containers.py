"""Container executor benchmark: what running a process in a container costs on top of the
container runtime itself, and what --concurrency buys.

Builds a busybox image from the host's static busybox (podman, no registry), then for each
concurrency (1 and 4) starts ``python colonies.py dev --no-executor --containers --concurrency N``
and measures:

* reference, in the same run: ``podman run --rm IMAGE echo hi`` wall time (p50 of --samples);
* one process at a time: submit -> successful for an ``execute`` of ``echo hi`` (p50), and its
  ratio to the reference;
* throughput: --processes processes of ``sleep 0.5`` submitted at once -> all successful,
  processes/s, and the speed-up of concurrency 4 over 1.

Runtime settings come from COLONIES_CONTAINER_RUNTIME_FLAGS / CONTAINERS_CONF like the executor;
on the sandboxed machines: ``--runtime-flags "--runtime runc --cgroup-manager=cgroupfs"`` and
a containers.conf with ``default_ulimits = []`` (this script writes one when --sandbox is given).
It prints figures only.

    python bench/containers.py [--sandbox] [--samples 10] [--processes 12]
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from colonies_pkg.client import Client  # noqa: E402

USER_PRV = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_image(tmp: Path, podman: list[str], env: dict[str, str]) -> str:
    rootfs = tmp / "rootfs" / "bin"
    rootfs.mkdir(parents=True)
    shutil.copy(shutil.which("busybox") or "/bin/busybox", rootfs / "busybox")
    for applet in ("sh", "echo", "sleep", "true"):
        (rootfs / applet).symlink_to("busybox")
    subprocess.run(["tar", "-C", str(tmp / "rootfs"), "-cf", str(tmp / "b.tar"), "."], check=True)
    image = f"localhost/colonies-bench-busybox:{uuid.uuid4().hex[:8]}"
    subprocess.run([*podman, "import", str(tmp / "b.tar"), image], check=True, env=env, capture_output=True)
    return image


def submit(client: Client, cmd: str, args: list[str], image: str) -> str:
    spec = {"funcname": "execute", "kwargs": {"cmd": cmd, "args": args, "docker-image": image},
            "conditions": {"colonyname": "dev", "executortype": "container-executor"},
            "maxexectime": -1, "maxwaittime": -1, "maxretries": 0}
    return str(client.rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, USER_PRV)["processid"])


def wait_done(client: Client, pids: list[str]) -> None:
    for pid in pids:
        while (p := client.rpc({"msgtype": "getprocessmsg", "processid": pid}, USER_PRV))["state"] < 2:
            time.sleep(0.02)
        if p["state"] != 2:
            raise SystemExit(f"process {pid} ended in state {p['state']}: {p['errors']}")


def run_dev(tmp: Path, concurrency: int, env: dict[str, str], image: str, samples: int,
            processes: int) -> tuple[float, float]:
    port = free_port()
    with open(tmp / f"dev-{concurrency}.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "colonies.py", "dev", "--no-executor", "--containers", "--port", str(port),
                                 "--data-dir", str(tmp / f"data-{concurrency}"), "--concurrency", str(concurrency)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                        pass
                    if b"serving" in (tmp / f"dev-{concurrency}.log").read_bytes():
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            client = Client("127.0.0.1", port)
            latencies = []
            for _ in range(samples):
                started = time.perf_counter()
                wait_done(client, [submit(client, "echo", ["hi"], image)])
                latencies.append(time.perf_counter() - started)
            started = time.perf_counter()
            pids = [submit(client, "sleep", ["0.5"], image) for _ in range(processes)]
            wait_done(client, pids)
            return statistics.median(latencies), processes / (time.perf_counter() - started)
        finally:
            proc.send_signal(2)
            proc.wait(60)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sandbox", action="store_true", help="podman settings for the sandboxed dev/CI machines")
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--processes", type=int, default=12)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="colonies-bench-containers-") as d:
        tmp = Path(d)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}
        env["COLONIES_CONTAINER_RUNTIME"] = "podman"
        env["COLONIES_CONTAINER_RUNTIME_FLAGS"] = os.environ.get("COLONIES_CONTAINER_RUNTIME_FLAGS", "")
        if args.sandbox:
            (tmp / "containers.conf").write_text("[containers]\ndefault_ulimits = []\n")
            env["CONTAINERS_CONF"] = str(tmp / "containers.conf")
            env["COLONIES_CONTAINER_RUNTIME_FLAGS"] = "--runtime runc --cgroup-manager=cgroupfs"
        podman = ["podman", *shlex.split(env["COLONIES_CONTAINER_RUNTIME_FLAGS"])]
        image = build_image(tmp, podman, env)
        try:
            reference = []
            for _ in range(args.samples):
                started = time.perf_counter()
                subprocess.run([*podman, "run", "--rm", image, "echo", "hi"], env=env, check=True, capture_output=True)
                reference.append(time.perf_counter() - started)
            ref = statistics.median(reference)
            print(f"reference: podman run --rm echo            p50 {ref * 1000:7.0f} ms")
            rates = {}
            for concurrency in (1, 4):
                latency, rate = run_dev(tmp, concurrency, env, image, args.samples, args.processes)
                rates[concurrency] = rate
                print(f"concurrency {concurrency}: submit -> successful p50 {latency * 1000:7.0f} ms "
                      f"(ratio {latency / ref:.2f} to the reference); {args.processes} x sleep 0.5: "
                      f"{rate:.2f} processes/s")
            print(f"speed-up of concurrency 4 over 1: {rates[4] / rates[1]:.2f}")
        finally:
            subprocess.run([*podman, "rmi", "-f", image], env=env, capture_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
