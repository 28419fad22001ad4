"""Runs every notebook top to bottom with tiny settings.

The notebooks share one kernel, its user namespace wiped between them
(IPython's `%reset -f`): each notebook still has to import and define
everything it uses, and TensorFlow's start (about 15 s a kernel on the
2-core CI machine) is paid once instead of nine times. A notebook that
kills the kernel gets a fresh one for the next.
"""

import glob
import os

import nbformat
import pytest
from jupyter_client import KernelManager
from nbclient import NotebookClient

DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(DIRECTORY, "*.ipynb")))

# Runs before each notebook, in the shared kernel: a clean namespace, the
# notebooks' folder as the working directory, no figures or Keras names
# left from the previous notebook.
RESET = """\
%reset -f
import os as _os
_os.chdir({directory!r})
import matplotlib.pyplot as _plt
_plt.close("all")
import keras as _keras
_keras.backend.clear_session()
del _os, _plt, _keras
"""


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


class SharedKernel:
    """One IPython kernel for the notebooks, restarted if one kills it."""

    def __init__(self):
        self.manager = None

    def get(self):
        if self.manager is None or not self.manager.is_alive():
            self.close()
            self.manager = KernelManager(kernel_name="python3")
            self.manager.start_kernel(
                cwd=DIRECTORY,
                env=dict(os.environ, KERAS_NLG_NOTEBOOK_QUICK="1"),
            )
        return self.manager

    def close(self):
        if self.manager is not None:
            self.manager.shutdown_kernel(now=True)
            self.manager = None


@pytest.fixture(scope="module")
def kernel():
    shared = SharedKernel()
    yield shared
    shared.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, kernel):
    notebook = nbformat.read(path, as_version=4)
    reset = nbformat.v4.new_code_cell(RESET.format(directory=DIRECTORY))
    notebook.cells.insert(0, reset)
    client = NotebookClient(notebook, timeout=600, km=kernel.get())
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    uses_plots = any("plt.show()" in cell.source for cell in notebook.cells)
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images or not uses_plots, "the plots were not drawn"
