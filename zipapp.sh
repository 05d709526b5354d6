#!/usr/bin/env bash
# Build colonies.pyz: one file that runs with any CPython of the build's minor version.
#
#   ./zipapp.sh [-o OUT.pyz] [--platform KEY]... [--no-strip]   (PYTHON=python3.11 picks the interpreter)
#
# KEY is linux-x86_64, linux-aarch64 (glibc >= 2.17, manylinux) or linux-x86_64-musl,
# linux-aarch64-musl; default: this machine's. Repeat --platform for a multi-platform pyz.
#
# Layout inside the zip (extracted once per build by packaging/bootstrap.py, which
# becomes __main__.py):
#   lib/common/        pure-Python wheels (Tag *-none-any) + colonies_pkg
#   lib/plat/<KEY>/    wheels with compiled code, one tree per platform
# Every .py ships with an *unchecked-hash* .pyc: zipfile does not restore mtimes, so
# timestamp pycs would be stale after extraction and every start would recompile
# (worse still under PYTHONDONTWRITEBYTECODE=1 or a read-only cache).
# The dependency set is [project].dependencies plus [project.optional-dependencies].fast
# (uvloop, httptools) where a wheel exists. Versions are whatever pip resolves; set
# PIP_CONSTRAINT=file to pin them. The pyz itself never touches the network.
set -euo pipefail
REPO=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
OUT=$REPO/colonies.pyz
KEYS=()
STRIP=1
while [ $# -gt 0 ]; do
  case "$1" in
    -o|--output) OUT=$2; shift 2 ;;
    --platform) KEYS+=("$2"); shift 2 ;;
    --no-strip) STRIP=0; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "zipapp.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac  # relative to the caller's cwd
cd "$REPO"

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/colonies-pyz.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
PYV=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
HOSTKEY=$("$PYTHON" -c 'import runpy; print(runpy.run_path("packaging/bootstrap.py")["platform_key"]())')
[ ${#KEYS[@]} -eq 0 ] && KEYS=("$HOSTKEY")

"$PYTHON" - "$STAGE" <<'PY'
import sys, tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
open(sys.argv[1] + "/requirements.txt", "w").write("\n".join(p["dependencies"]) + "\n")
open(sys.argv[1] + "/optional.txt", "w").write("\n".join(p.get("optional-dependencies", {}).get("fast", [])) + "\n")
PY

PIP=("$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-conflicts
     --root-user-action=ignore --no-compile --only-binary=:all:)
NORM_KEYS=()
for key in "${KEYS[@]}"; do
  case "$key" in linux-x86_64|linux-aarch64) key="$key-gnu" ;; esac
  arch=$(echo "$key" | cut -d- -f2)
  case "$key" in
    # Explicit manylinux tags even for the host, so a build on a new distro does not
    # pick wheels that need a newer glibc than the machines it will run on.
    linux-*-gnu) plats=(manylinux2014_$arch manylinux_2_17_$arch manylinux_2_28_$arch) ;;
    linux-*-musl) plats=(musllinux_1_1_$arch musllinux_1_2_$arch) ;;
    "$HOSTKEY") plats=() ;;
    *) echo "zipapp.sh: unsupported platform '$key'" >&2; exit 2 ;;
  esac
  flags=()
  if [ ${#plats[@]} -gt 0 ]; then
    # Note: pip evaluates environment markers against the build host, not the target.
    flags=(--python-version "$PYV" --implementation cp --abi "cp${PYV/./}" --abi abi3 --abi none)
    for p in "${plats[@]}"; do flags+=(--platform "$p"); done
  fi
  dir="$STAGE/wheels/$key"
  echo "zipapp.sh: resolving dependencies for $key (python $PYV)" >&2
  "${PIP[@]}" "${flags[@]}" --target "$dir" -r "$STAGE/requirements.txt"
  while read -r req; do
    [ -n "$req" ] || continue
    "${PIP[@]}" "${flags[@]}" --target "$dir" "$req" 2>/dev/null \
      || echo "zipapp.sh: no wheel for '$req' on $key; left out" >&2
  done < "$STAGE/optional.txt"
  # Console scripts carry the build venv's shebang; tests and C sources are never imported.
  rm -rf "$dir/bin" "$dir/Crypto/SelfTest"
  find "$dir" -name __pycache__ -prune -exec rm -rf {} +
  find "$dir" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.c' -o -name '*.h' \) -delete
  # uvloop's wheel keeps DWARF debug info: 13.6 MB of its 14. --strip-debug leaves the
  # symbol table alone. GNU strip only reads the host's ELF flavour, llvm-strip reads all;
  # a file neither can handle is shipped as it came.
  if [ "$STRIP" = 1 ]; then
    find "$dir" -name '*.so' -exec sh -c 'for f; do strip --strip-debug "$f" 2>/dev/null ||
      llvm-strip --strip-debug "$f" 2>/dev/null || true; done' sh {} +
  fi
  NORM_KEYS+=("$key")
done

"$PYTHON" - "$STAGE" "$OUT" "$PYV" "${NORM_KEYS[@]}" <<'PY'
import compileall, hashlib, os, py_compile, shutil, sys, time, zipfile
stage, out, pyv, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
lib = os.path.join(stage, "app", "lib")
common = os.path.join(lib, "common")
os.makedirs(common)

def dists(d):
    return {n for n in os.listdir(d) if n.endswith(".dist-info")}

# A distribution is shared only if its wheel is tagged *-none-any on every platform
# (same name+version). Not Root-Is-Purelib: coincurve claims purelib and ships .so files.
def pure(d, di):
    tags = [l.split(":", 1)[1].strip() for l in open(os.path.join(d, di, "WHEEL")) if l.startswith("Tag:")]
    return bool(tags) and all(t.endswith("-none-any") for t in tags)

dirs = {k: os.path.join(stage, "wheels", k) for k in keys}
shared = set.intersection(*(dists(d) for d in dirs.values()))
shared = {di for di in shared if all(pure(d, di) for d in dirs.values())}
for i, (k, d) in enumerate(dirs.items()):
    for di in sorted(shared):
        for line in open(os.path.join(d, di, "RECORD")):
            rel = line.rsplit(",", 2)[0]
            src = os.path.join(d, rel)
            if rel.startswith("..") or not os.path.isfile(src):
                continue
            if i == 0:
                os.makedirs(os.path.dirname(os.path.join(common, rel)), exist_ok=True)
                shutil.move(src, os.path.join(common, rel))
            else:
                os.remove(src)
    # Whatever is left (binary wheels) is this platform's own tree; drop emptied dirs.
    for root, subdirs, files in os.walk(d, topdown=False):
        if root != d and not os.listdir(root):
            os.rmdir(root)
    shutil.move(d, os.path.join(lib, "plat", k))

shutil.copytree("colonies_pkg", os.path.join(common, "colonies_pkg"),
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))

# -s/-p equivalent: keep the random staging path out of co_filename so that the pycs,
# and hence BUILD_ID, are reproducible. Python fixes co_filename at import time.
ok = compileall.compile_dir(lib, quiet=1, workers=0, stripdir=os.path.join(stage, "app"),
                            prependdir="/colonies.pyz",
                            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
if not ok:
    sys.exit("zipapp.sh: compileall failed")

files = []
for root, _, names in os.walk(lib):
    for n in names:
        path = os.path.join(root, n)
        files.append((os.path.relpath(path, os.path.join(stage, "app")).replace(os.sep, "/"), path))
files.sort()
# BUILD_ID names the cache dir, so it must change whenever the extracted tree would.
# It ignores __main__.py; bump "layout-v1" if bootstrap.py ever extracts differently.
h = hashlib.sha256(b"colonies-pyz-layout-v1\0")
for arc, path in files:
    h.update(arc.encode() + b"\0" + hashlib.sha256(open(path, "rb").read()).digest())
build_id = h.hexdigest()[:16]

boot = open("packaging/bootstrap.py").read()
for name, value in (("BUILD_ID", build_id), ("PY_TAG", sys.implementation.cache_tag),
                    ("PY_VERSION", pyv), ("PLATFORMS", ",".join(keys))):
    assert boot.count("@%s@" % name) == 1, name
    boot = boot.replace("@%s@" % name, value)

# Written by hand instead of `python -m zipapp`: sorted entries and a fixed timestamp
# give a byte-identical pyz for identical inputs (SOURCE_DATE_EPOCH honoured).
stamp = time.gmtime(max(int(os.environ.get("SOURCE_DATE_EPOCH", 315532800)), 315532800))[:6]
tmp = out + ".tmp"
with open(tmp, "wb") as fd:
    fd.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(fd, "w", zipfile.ZIP_DEFLATED) as zf:
        def add(arc, data):
            info = zipfile.ZipInfo(arc, stamp)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        add("__main__.py", boot)
        for arc, path in files:
            add(arc, open(path, "rb").read())
os.chmod(tmp, 0o755)
os.replace(tmp, out)  # never leave a half-written pyz where tests/bench look for it
print("zipapp.sh: wrote %s (%.1f MiB, %d files, build %s, %s, platforms %s)" % (
    out, os.path.getsize(out) / 2**20, len(files), build_id, sys.implementation.cache_tag,
    ",".join(keys)), file=sys.stderr)
PY
