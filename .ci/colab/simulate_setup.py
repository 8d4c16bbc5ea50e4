"""Run a lesson's setup cell as Colab would, in a fresh kernel of this Python.

Usage: python simulate_setup.py LESSON.ipynb PIP_URL
The kernel first imports Colab's packages (as Colab's kernel has them loaded) and a
stand-in `google.colab` module, then runs the lesson's setup cell with SRGAN_SOURCE set to
PIP_URL (e.g. git+file:///tmp/repo@<commit>, where Colab has git+https://github.com/...),
then checks that srgan_lib imports from site-packages in the same kernel (no runtime
restart), that no package it had loaded changed version, and that the GPU check tells
Colab users how to get a GPU.
"""

import re
import sys
import tempfile

import nbclient
import nbformat
from nbformat.v4 import new_code_cell, new_notebook

COLAB = """import importlib.metadata, importlib.util, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what the setup cell tests
import IPython, PIL, ipywidgets, keras, matplotlib.pyplot, numpy, scipy, skimage, tqdm
loaded = {d: importlib.metadata.version(d) for d in
          ("ipython", "pillow", "ipywidgets", "keras", "matplotlib", "numpy", "scipy",
           "scikit-image", "tqdm", "tensorflow")}
assert importlib.util.find_spec("srgan_lib") is None, "srgan_lib must not be importable yet"
print("before:", loaded)"""

CHECK = """import srgan_lib
after = {d: importlib.metadata.version(d) for d in loaded}
assert after == loaded, f"the install changed loaded packages: {loaded} -> {after}"
assert "site-packages" in srgan_lib.__file__, srgan_lib.__file__
from srgan_lib import runtime
line = runtime.describe_runtime()  # the GPU check: a GPU, or how to get one on Colab
assert "GPU:" in line or "Runtime > Change runtime type > T4 GPU" in line, line
print("installed", importlib.metadata.version("srgan-course"), "at", srgan_lib.__file__,
      "- no restart needed; loaded packages unchanged")"""


def main(lesson: str, pip_url: str) -> int:
    nb = nbformat.read(lesson, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    source, count = re.subn(r'SRGAN_SOURCE = "[^"]*"', f'SRGAN_SOURCE = "{pip_url}"', setup.source)
    assert count == 1, "the setup cell has no SRGAN_SOURCE line"
    sim = new_notebook(cells=[new_code_cell(COLAB), new_code_cell(source), new_code_cell(CHECK)])
    sim.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    with tempfile.TemporaryDirectory() as cwd:  # not the checkout: srgan_lib must come from pip
        client = nbclient.NotebookClient(sim, timeout=600, resources={"metadata": {"path": cwd}})
        try:
            client.execute()
        finally:
            for cell in sim.cells:
                for out in cell.get("outputs", []):
                    text = out.get("text") or "\n".join(out.get("traceback", []))
                    print(text.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
