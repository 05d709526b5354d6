"""Shared CLI helpers: env-backed flags whose --help shows the variable."""
from __future__ import annotations

import argparse
import os
from typing import Any


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 1."""


def env_arg(parser: argparse.ArgumentParser, *flags: str, env: str, default: Any = None, help: str = "",
            **kwargs: Any) -> None:
    """Add a flag whose default comes from the environment variable `env`."""
    value = os.environ.get(env)
    if value is not None and kwargs.get("type") is not None:
        value = kwargs["type"](value)
    shown = f"{help} (env: {env}" + (f", default: {default}" if default not in (None, "") else "") + ")"
    parser.add_argument(*flags, default=value if value is not None else default, help=shown, **kwargs)
