"""The container executor's `execute` (layer L5): one process = one container run through a
docker-compatible CLI (`docker` or `podman`).

kwargs: `cmd` (a command line, split like a shell would split it), `args` (appended), `docker-image`,
`rebuild-image` (pull even when the image is present). The process's CFS mount is bind-mounted at
the spec's `fs.mount`; the spec's `env` is passed in (through a private env file, so values do not
appear in a process listing); `conditions.cpu`, `mem` and `gpu.count` become `--cpus`, `--memory` and GPU requests.
Output goes to the process log line by line; a non-zero exit fails the process with the last lines
of stderr; a stopped job stops the container (`stop -t GRACE`: SIGTERM, then SIGKILL), and the
container is always removed afterwards.
"""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.resources import parse_cpu, parse_mem
from ..errors import ColoniesError
from ..models.process import Conditions
from .job import Job, JobStopped
from .stream import run_streaming

RUNTIME_ENV = "COLONIES_CONTAINER_RUNTIME"
RUNTIME_FLAGS_ENV = "COLONIES_CONTAINER_RUNTIME_FLAGS"
STOP_GRACE_ENV = "COLONIES_CONTAINER_STOP_GRACE"
KNOWN_RUNTIMES = ("docker", "podman")
LABEL_PROCESS = "colonies.processid"
LABEL_EXECUTOR = "colonies.executor"
CLI_TIMEOUT = 120  # seconds for one image inspect / stop / rm call


class RuntimeNotFound(ColoniesError):
    """No container runtime found"""


@dataclass
class ContainerRuntime:
    """How to call the container CLI: the command, its global flags, the stop grace period."""

    command: str
    flags: list[str] = field(default_factory=list)
    stop_grace: float = 10.0
    # images seen present: not inspected again (should one vanish, `run` pulls it by itself)
    present: set[str] = field(default_factory=set, repr=False)

    @property
    def name(self) -> str:
        return os.path.basename(self.command)

    @property
    def is_podman(self) -> bool:
        return "podman" in self.name

    def describe(self) -> str:
        return " ".join([self.name, *self.flags])

    def argv(self, *args: str) -> list[str]:
        return [self.command, *self.flags, *args]

    @classmethod
    def find(cls, runtime: str | None = None, flags: str | None = None, stop_grace: float | str | None = None,
             environ: Mapping[str, str] | None = None) -> ContainerRuntime:
        """The runtime named (flag, then COLONIES_CONTAINER_RUNTIME), else the first of docker and
        podman on PATH that answers `version` (a docker CLI without its daemon does not)."""
        environ = os.environ if environ is None else environ
        wanted = runtime or environ.get(RUNTIME_ENV) or ""
        flag_text = flags if flags is not None else environ.get(RUNTIME_FLAGS_ENV, "")
        try:
            parsed = shlex.split(flag_text)
        except ValueError as exc:
            raise ColoniesError(f"invalid container runtime flags {flag_text!r}: {exc}") from exc
        grace_text = stop_grace if stop_grace is not None else environ.get(STOP_GRACE_ENV) or 10
        try:
            grace = float(grace_text)
        except ValueError as exc:
            raise ColoniesError(f"invalid stop grace period {grace_text!r}: {exc}") from exc
        if not 0 <= grace <= 3600:
            raise ColoniesError("the stop grace period must be 0 to 3600 seconds")
        if wanted:
            command = shutil.which(wanted)
            if command is None:
                raise RuntimeNotFound(f"container runtime {wanted!r} not found on PATH")
            return cls(command, parsed, grace)
        found = [path for path in map(shutil.which, KNOWN_RUNTIMES) if path]
        if not found:
            raise RuntimeNotFound("no container runtime found: install docker or podman, or name one with "
                                  f"--runtime / {RUNTIME_ENV}")
        problems = []
        for command in found:
            candidate = cls(command, parsed, grace)
            problem = candidate.probe()
            if problem is None:
                return candidate
            problems.append(f"{candidate.name}: {problem}")
        raise RuntimeNotFound(f"no working container runtime ({'; '.join(problems)})")

    def probe(self) -> str | None:
        """None when the runtime answers `version`, else why not (its last line of output)."""
        try:
            result = self._call("version", timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if result.returncode == 0:
            return None
        lines = (result.stderr or result.stdout).strip().splitlines()
        return lines[-1][:300] if lines else f"exit {result.returncode}"

    # --- single calls ---------------------------------------------------------------------------
    def _call(self, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, start_new_session=True)

    def has_image(self, image: str) -> bool:
        if image in self.present:
            return True
        if self._call("image", "inspect", image).returncode != 0:
            return False
        self.present.add(image)
        return True

    def stop(self, name: str) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._call("stop", "-t", str(int(self.stop_grace + 0.999)), name,
                       timeout=self.stop_grace + CLI_TIMEOUT)

    def remove(self, name: str) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._call("rm", "-f", name)

    def remove_leftovers(self, executorname: str) -> int:
        """Remove containers a previous run of this executor left (e.g. it was killed with -9)."""
        listed = self._call("ps", "-a", "-q", "--filter", f"label={LABEL_EXECUTOR}={executorname}")
        ids = listed.stdout.split() if listed.returncode == 0 else []
        if ids:
            self._call("rm", "-f", *ids)
        return len(ids)

    # --- the run command ----------------------------------------------------------------------
    def limit_flags(self, conditions: Conditions) -> list[str]:
        """`--cpus`, `--memory` and GPU requests from a spec's conditions (empty or 0 = no limit)."""
        out: list[str] = []
        millicores = parse_cpu(conditions.cpu)
        if millicores > 0:
            out += ["--cpus", f"{millicores / 1000:g}"]
        mem = parse_mem(conditions.mem)
        if mem > 0:
            out += ["--memory", f"{mem}b"]
        count = conditions.gpu.count if conditions.gpu is not None else 0
        if count > 0:
            if self.is_podman:  # podman names GPUs through CDI (NVIDIA Container Toolkit)
                for i in range(count):
                    out += ["--device", f"nvidia.com/gpu={i}"]
            else:
                out += ["--gpus", str(count)]
        return out

    def run_argv(self, name: str, image: str, command: list[str], *, env: Mapping[str, str], env_file: str | None,
                 mount: tuple[str, str] | None, limits: list[str], labels: Mapping[str, str]) -> list[str]:
        args = ["run", "--name", name]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        if env_file is not None:
            args += ["--env-file", env_file]
        for key, value in env.items():
            if not _env_file_safe(key, value):
                args += ["-e", f"{key}={value}"]  # an env file cannot hold it (e.g. a newline)
        if mount is not None:
            args += ["-v", f"{mount[0]}:{mount[1]}"]
        return self.argv(*args, *limits, image, *command)


# An image reference: [registry[:port]/]name[:tag][@digest]. Above all it must not start with "-":
# in the run command it would be read as an option (e.g. "--privileged" or "-v=/:/host").
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*")
_MOUNT_POINT = re.compile(r"/[^:,\x00]*")


def _image(kwargs: Mapping[str, Any]) -> str:
    image = kwargs.get("docker-image")
    if not isinstance(image, str) or not image.strip():
        raise ValueError("execute needs kwargs['docker-image'], the image to run")
    if not _IMAGE.fullmatch(image.strip()) or len(image) > 512:
        raise ValueError(f"invalid kwargs['docker-image'] {image[:100]!r}: not an image reference")
    return image.strip()


def _mount_point(name: str) -> str:
    """The spec's fs.mount as the path inside the container: absolute, no ':' or ','."""
    point = "/" + name.strip("/")
    if not _MOUNT_POINT.fullmatch(point) or ".." in point.split("/"):
        raise ValueError(f"invalid fs.mount {name!r} for a container: use an absolute path such as /cfs")
    return point


def _command(kwargs: Mapping[str, Any]) -> list[str]:
    cmd = kwargs.get("cmd")
    if not isinstance(cmd, str) or not cmd.strip():
        raise ValueError("execute needs kwargs.cmd, the command to run in the container")
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise ValueError(f"kwargs.cmd is not a valid command line: {exc}") from None
    args = kwargs.get("args") or []
    if not isinstance(args, list):
        raise ValueError("kwargs.args must be a list")
    return argv + [a if isinstance(a, str) else str(a) for a in args]


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    """The spec's env (names to values, as its Struct holds them), checked for names a container
    runtime would misread."""
    env = env or {}
    for key in env:
        if not key or "=" in key or "\x00" in key:
            raise ValueError(f"invalid environment variable name {key!r}")
    return dict(env)


def _env_file_safe(key: str, value: str) -> bool:
    return not key.startswith("#") and key == key.strip() and "\n" not in value and "\r" not in value


def _write_env_file(env: Mapping[str, str]) -> str | None:
    lines = [f"{k}={v}\n" for k, v in env.items() if _env_file_safe(k, v)]
    if not lines:
        return None
    fd, path = tempfile.mkstemp(prefix="colonies-env-", suffix=".env")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return path


def _truthy(value: Any) -> bool:
    return value.strip().lower() in ("1", "true", "yes") if isinstance(value, str) else bool(value)


def container_name(processid: str) -> str:
    return f"colonies-{processid[:16]}-{uuid.uuid4().hex[:6]}"


def ensure_image(runtime: ContainerRuntime, image: str, rebuild: bool, job: Job) -> None:
    """Pull `image` when it is not present (always when `rebuild`); a failed pull fails the process."""
    if not rebuild and runtime.has_image(image):
        return
    job.log(f"Pulling image {image}\n")
    try:
        result = runtime._call("pull", image, timeout=3600)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"pulling image {image} timed out") from None
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout).strip().splitlines() if line.strip()]
        errors = [line for line in lines if line.lower().startswith("error")]  # not the retry warnings
        message = errors[-1] if errors else " ".join(lines[-3:]) or f"exit {result.returncode}"
        raise RuntimeError(f"could not pull image {image}: {message}")
    runtime.present.add(image)


def execute(runtime: ContainerRuntime, args: list[Any], kwargs: dict[str, Any], inputs: list[Any],
            job: Job) -> list[Any]:
    """Run the process's container to its end; [] on success (the output is in the process log)."""
    image = _image(kwargs)
    command = _command(kwargs)
    env = _env(job.spec.env)
    limits = runtime.limit_flags(job.process.conditions)
    mount = (job.fs.path, _mount_point(job.fs.name)) if job.fs is not None else None
    job.check()
    ensure_image(runtime, image, _truthy(kwargs.get("rebuild-image")), job)
    job.check()
    name = container_name(job.processid)
    env_file = _write_env_file(env)
    try:
        argv = runtime.run_argv(name, image, command, env=env, env_file=env_file, mount=mount,
                                limits=limits, labels={LABEL_PROCESS: job.processid, LABEL_EXECUTOR: job.executorname})
        finished = run_streaming(argv, job, stop=lambda: runtime.stop(name), grace=runtime.stop_grace)
    finally:
        runtime.remove(name)
        if env_file is not None:
            os.unlink(env_file)
    if finished.stopped:
        raise JobStopped(f"container {name} stopped: {job.reason}")
    if finished.returncode != 0:
        raise RuntimeError(finished.failure("container"))
    return []
