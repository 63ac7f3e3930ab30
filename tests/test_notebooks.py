"""The notebooks in docs/notebooks/ run, start to end, with a real kernel (nbclient + ipykernel), each on a
fresh instance it brings up itself in the test's own folder; any cell that raises fails the test. The desktop
client's notebook gets a real X display (Xvfb), as a user's machine has one.

They are committed without outputs: a notebook carries its code, not the results of one run on one machine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from api.postgres.target import cluster_root
from tests.gui.harness import virtual_display
from tests.test_instance import remove_clusters_of

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "docs" / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 600  # a guard against a hung cell, never a measure of speed


def test_there_are_the_three_notebooks():
    assert [path.name for path in NOTEBOOKS] == [
        "01_deploy_and_use.ipynb", "02_audit_analysis.ipynb", "03_desktop_client.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: a cell has outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_runs_without_an_error_cell(path, tmp_path):
    if path.stem == "03_desktop_client" and (shutil.which("Xvfb") is None or shutil.which("xdotool") is None):
        pytest.fail("Xvfb and xdotool are needed for the desktop client's notebook: run `make gui-deps`")
    notebook = nbformat.read(path, as_version=4)
    # The kernel inherits this environment; Strongroom settings of the caller's must not leak into the
    # notebook's own instance.
    saved = {k: v for k, v in os.environ.items() if k.startswith("STRONGROOM_") or k == "DATABASE_URL"}
    for name in saved:
        del os.environ[name]
    try:
        with virtual_display():
            client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                    resources={"metadata": {"path": str(tmp_path)}})
            client.execute()  # raises CellExecutionError, naming the cell, on the first error
    finally:
        os.environ.update(saved)
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert errors == []
    homes = [tmp_path / name for name in os.listdir(tmp_path) if (tmp_path / name).is_dir()]
    assert not any((cluster_root(home) / "pgdata" / "postmaster.pid").exists() for home in homes)
    remove_clusters_of(tmp_path)
