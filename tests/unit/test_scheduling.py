"""tests/scheduling.py: how the suite is spread over its pytest-xdist workers."""
from __future__ import annotations

from scheduling import LONGEST_FIRST, WHOLE_FOLDERS, unit_of
from server_process import REPO


def test_a_file_is_a_unit_and_the_shared_folders_are_one_unit_each() -> None:
    assert unit_of("tests/e2e/test_processes.py::test_submit[sqlite]") == "tests/e2e/test_processes.py"
    assert unit_of("tests/test_zipapp.py::TestDevCommand::test_dev_runs_echo_process_end_to_end") == \
        "tests/test_zipapp.py"
    assert unit_of("tests/containers/test_dev_containers.py::test_x") == "tests/containers"
    assert unit_of("tests/cfs/test_cfs_cli.py::test_guide_walkthrough[s3]") == "tests/cfs"
    assert unit_of("tests/cfsx/test_y.py::test_z") == "tests/cfsx/test_y.py"  # a folder prefix, not a name prefix


def test_every_unit_named_for_the_order_exists() -> None:
    """A renamed or moved file would silently lose its early start."""
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    for unit in LONGEST_FIRST:
        assert (REPO / unit).exists(), unit
        assert unit_of(unit + ("/test_x.py::test_y" if (REPO / unit).is_dir() else "::test_y")) == unit
    for folder in WHOLE_FOLDERS:
        assert (REPO / folder).is_dir() and folder.endswith("/"), folder
