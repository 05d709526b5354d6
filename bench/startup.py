"""Start-up figures for colonies.pyz. Prints numbers; asserts nothing.

    python bench/startup.py [--pyz PATH] [--rebuild] [--rounds N] [--python PY]

* size of the pyz;
* cold start: empty cache (fresh HOME/XDG_CACHE_HOME/TMPDIR), from exec of
  `python -I colonies.pyz dev --no-executor` until GET /health answers 200;
* warm start: the same, with the cache from the cold run;
* `colonies.pyz version`, warm, wall time until exit.

The interpreter is a bare `venv --without-pip` of this Python (none of the dependencies),
unless --python is given. Each figure is the median of --rounds runs, (min) in brackets.
"""
import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"size": 15.0, "cold": 3.0, "warm": 0.8, "version": 0.3}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def time_to_listening(py, pyz, env, cwd, data, timeout=60.0):
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([py, "-I", str(pyz), "dev", "--no-executor", "--port", str(port),
                             "--data-dir", str(data)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"dev exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            if healthy(port):
                return time.perf_counter() - t0
            time.sleep(0.005)
        raise RuntimeError(f"dev did not answer /health within {timeout:.0f} s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fmt(values, target, unit="s"):
    med = statistics.median(values)
    verdict = "ok" if med <= target else "OVER"
    return f"{med:6.3f} {unit} (min {min(values):.3f})   target <= {target:.1f} {unit}: {verdict}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyz", type=Path, default=REPO / "colonies.pyz")
    ap.add_argument("--rebuild", action="store_true", help="run zipapp.sh even if the pyz exists")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--python", help="interpreter to run the pyz with (default: bare venv)")
    args = ap.parse_args()

    if args.rebuild or not args.pyz.exists():
        t = time.perf_counter()
        subprocess.run(["bash", str(REPO / "zipapp.sh"), "-o", str(args.pyz)], check=True,
                       env={**os.environ, "PYTHON": sys.executable})
        print(f"build (zipapp.sh):      {time.perf_counter() - t:6.1f} s")
    size = args.pyz.stat().st_size

    with tempfile.TemporaryDirectory(prefix="colonies-bench-") as tmp:
        tmp = Path(tmp)
        py = args.python
        if not py:
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
            py = str(tmp / "venv" / "bin" / "python")
        cold, warm, version = [], [], []
        for i in range(args.rounds):
            box = tmp / f"r{i}"
            for d in ("home", "tmp", "cwd"):
                (box / d).mkdir(parents=True)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                   "HOME": str(box / "home"), "XDG_CACHE_HOME": str(box / "home" / ".cache"),
                   "TMPDIR": str(box / "tmp")}
            cold.append(time_to_listening(py, args.pyz, env, box / "cwd", box / "data-cold"))
            warm.extend(time_to_listening(py, args.pyz, env, box / "cwd", box / f"data-warm{j}") for j in range(2))
            for _ in range(3):
                t = time.perf_counter()
                subprocess.run([py, "-I", str(args.pyz), "version"], cwd=box / "cwd", env=env,
                               check=True, stdout=subprocess.DEVNULL)
                version.append(time.perf_counter() - t)
            shutil.rmtree(box, ignore_errors=True)
        pyver = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"],
                               capture_output=True, text=True).stdout.strip()

    interpreter = py if args.python else "bare venv of " + sys.executable
    print(f"pyz:                    {args.pyz}")
    print(f"interpreter:            {interpreter} (Python {pyver}), {args.rounds:d} rounds, {os.cpu_count():d} CPUs")
    size_verdict = "ok" if size / 1e6 <= TARGETS["size"] else "OVER"
    print(f"size:                   {size / 1e6:6.2f} MB ({size / 2**20:.2f} MiB)   target <= {TARGETS['size']:.0f} MB: "
          f"{size_verdict}")
    print("cold dev to /health:    " + fmt(cold, TARGETS["cold"]))
    print("warm dev to /health:    " + fmt(warm, TARGETS["warm"]))
    print("warm `version`:         " + fmt(version, TARGETS["version"]))


if __name__ == "__main__":
    main()
