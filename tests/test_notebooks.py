"""Runs every notebook top to bottom with tiny settings."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted(
    glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "*.ipynb"))
)


def test_notebooks_exist():
    names = [os.path.basename(path) for path in NOTEBOOKS]
    assert names == [
        "01_quickstart.ipynb",
        "02_attention.ipynb",
        "03_generation_strategies.ipynb",
        "04_pretrained_gpt2.ipynb",
        "05_finetune_e2e.ipynb",
        "06_export_and_serve.ipynb",
        "07_tflite.ipynb",
        "08_rl_finetuning.ipynb",
        "09_adversarial_training.ipynb",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("KERAS_NLG_NOTEBOOK_QUICK", "1")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    uses_plots = any("plt.show()" in cell.source for cell in notebook.cells)
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images or not uses_plots, "the plots were not drawn"
