"""domain/resources.py: cpu (millicores) and memory (bytes) quantities of function specs."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from colonies_pkg.domain.resources import parse_cpu, parse_mem
from colonies_pkg.errors import BadRequest

Ki, Mi, Gi, Ti = 1024, 1024**2, 1024**3, 1024**4


@pytest.mark.parametrize(("text", "millicores"), [
    ("", 0), ("0", 0), ("0m", 0), ("500m", 500), ("1000m", 1000), ("2", 2000), ("0.5", 500), ("1.5", 1500),
    (" 250m ", 250), ("64", 64_000),
])
def test_parse_cpu(text: str, millicores: int) -> None:
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize("text", ["abc", "5x", "-1", "1Gi", "m", "1 2", "1e3", "5M", "0x10"])
def test_parse_cpu_rejects(text: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_cpu(text)
    assert info.value.status == 400


# Suffixes the Go server accepts (PROTOCOL §5.4), plus the binary ones without "B".
@pytest.mark.parametrize(("text", "nbytes"), [
    ("", 0), ("0", 0), ("1000", 1000), ("0Mi", 0),
    ("1Ki", Ki), ("1KiB", Ki), ("512Mi", 512 * Mi), ("512MiB", 512 * Mi), ("8Gi", 8 * Gi), ("8GiB", 8 * Gi),
    ("1Ti", Ti), ("1TiB", Ti),
    ("1K", 1000), ("1KB", 1000), ("1Kb", 1000), ("512M", 512 * 10**6), ("512MB", 512 * 10**6), ("512Mb", 512 * 10**6),
    ("2G", 2 * 10**9), ("2Gb", 2 * 10**9), ("1TB", 10**12), ("1Tb", 10**12),
    ("1.5Gi", 3 * Gi // 2), ("0.5Ki", 512), (" 4Gi ", 4 * Gi),
])
def test_parse_mem(text: str, nbytes: int) -> None:
    assert parse_mem(text) == nbytes


@pytest.mark.parametrize("text", ["abc", "5XB", "1Pi", "-1Gi", "Gi", "1 2Gi", "1e3"])
def test_parse_mem_rejects(text: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_mem(text)
    assert info.value.status == 400


@given(st.integers(min_value=0, max_value=10**9))
def test_cpu_millicores_are_exact(n: int) -> None:
    assert parse_cpu(f"{n}m") == n


@given(st.integers(min_value=0, max_value=10**6))
def test_cpu_cores_are_thousand_millicores(n: int) -> None:
    assert parse_cpu(str(n)) == 1000 * n


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from([("Ki", Ki), ("Mi", Mi), ("Gi", Gi), ("KB", 1000),
                                                                   ("MB", 10**6), ("GB", 10**9), ("", 1)]))
def test_mem_integer_quantities_are_exact(n: int, unit: tuple[str, int]) -> None:
    suffix, factor = unit
    assert parse_mem(f"{n}{suffix}") == n * factor


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_mem_is_monotonic(a: int, b: int) -> None:
    assert (parse_mem(f"{a}Mi") <= parse_mem(f"{b}Mi")) == (a <= b)
