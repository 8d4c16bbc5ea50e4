"""What the lessons rely on in Colab: the data cache on Drive, the ImageNet VGG19 download,
the GPU check, and the before/after widget on ipywidgets 7.7 (Colab's) and 8.

`make colab-check` runs this file in a Python 3.13 venv holding Colab's preinstalled
versions (.ci/colab/constraints.txt); `make test` runs it with the project's own.
"""

from __future__ import annotations

import io
import socket
import sys
import types

import keras
import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from srgan_lib import downloads, losses, runtime, widgets


@pytest.fixture
def on_colab(monkeypatch):
    """A stand-in `google.colab` module, which the lessons and srgan_lib look for."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))


def test_data_cache_on_drive(tmp_path, monkeypatch):
    """SRGAN_DATA_DIR on the mounted Drive is where downloads go (and, offline, where the
    error says to put the files), whatever the current folder."""
    drive = tmp_path / "content" / "drive" / "MyDrive" / "srgan-data"
    monkeypatch.setenv("SRGAN_DATA_DIR", str(drive))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.chdir(tmp_path)
    assert downloads.data_dir() == drive and drive.is_dir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(downloads.DownloadError) as err:
        downloads.download("Set5", base_url=f"http://127.0.0.1:{closed}/", progress=False)
    assert str(drive / "Set5" / "HR" / "img_001.png") in str(err.value)
    assert not (tmp_path / "data").exists()


def test_imagenet_vgg19_is_fetched_from_the_documented_url(tmp_path, monkeypatch):
    """Keras (whatever version is installed: Colab's 3.13.2, or ours) fetches the VGG19
    weights through `file_utils.get_file` with the URL and file name that srgan_lib's error
    message gives; here a local random-weights file stands in for the download."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    from keras.src.utils import file_utils

    stand_in = tmp_path / losses.VGG19_NOTOP_FILE  # in the file format Keras publishes
    reference = keras.applications.VGG19(include_top=False, weights=None)
    with h5py.File(stand_in, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    calls = []

    def fake_get_file(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs.get("cache_subdir")))
        return str(stand_in)

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    vgg = losses.build_vgg_feature_extractor("vgg22", weights="imagenet")
    assert calls == [(losses.VGG19_NOTOP_FILE, losses.VGG19_NOTOP_URL, "models")]
    kernel = reference.get_layer("block1_conv1").get_weights()[0]
    ours = next(w for w in vgg.weights if "block1_conv1" in w.path and w.shape == kernel.shape)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours), kernel)


def test_imagenet_vgg19_offline_names_the_cache_path(monkeypatch, tmp_path):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "drive" / "keras"))
    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(losses.VGGWeightsError) as err:
        losses.build_vgg_feature_extractor("vgg22", weights="imagenet")
    assert str(tmp_path / "drive" / "keras" / "models" / losses.VGG19_NOTOP_FILE) in str(err.value)
    assert losses.VGG19_NOTOP_URL in str(err.value)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="checks TensorFlow's devices")
def test_gpu_check_tells_colab_users_how_to_get_a_gpu(on_colab, monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    line = runtime.describe_runtime()
    assert "no GPU found" in line and "Runtime > Change runtime type" in line
    gpu = types.SimpleNamespace(name="/physical_device:GPU:0")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu])
    line = runtime.describe_runtime()
    assert line.endswith("device: /physical_device:GPU:0") and "Runtime" not in line


def test_front_end_detection(on_colab, monkeypatch):
    monkeypatch.delenv(widgets.WIDGETS_ENV, raising=False)
    monkeypatch.setattr(widgets, "in_live_kernel", lambda: False)
    assert widgets.live_front_end() is None  # a script, even with google.colab imported
    monkeypatch.setattr(widgets, "in_live_kernel", lambda: True)
    shell = types.SimpleNamespace(user_ns={})
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    assert widgets.live_front_end() == "colab"
    monkeypatch.delitem(sys.modules, "google.colab")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert widgets.live_front_end() is None  # a kernel of papermill, nbval or nbclient
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/06_evaluation.ipynb")
    assert widgets.live_front_end() == "jupyter"  # jupyter_server started the kernel
    monkeypatch.setenv(widgets.WIDGETS_ENV, "static")
    assert widgets.live_front_end() is None
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.delenv(widgets.WIDGETS_ENV)
    shell.user_ns["__vsc_ipynb_file__"] = "/home/me/06_evaluation.ipynb"
    assert widgets.live_front_end() == "vscode"


def test_before_after_default_is_static_without_a_front_end(monkeypatch):
    monkeypatch.setattr(widgets, "in_live_kernel", lambda: True)
    monkeypatch.setattr(widgets, "live_front_end", lambda: None)
    a = np.zeros((8, 12, 3), np.uint8)
    fig = widgets.before_after(a, a + 255, ("bicubic", "SRGAN (4 blocks, 6 steps)"))
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [ax.get_title() for ax in fig.axes] == ["bicubic", "SRGAN (4 blocks, 6 steps)"]
    plt.close(fig)


def test_before_after_widget_on_this_ipywidgets(monkeypatch):
    """The slider box on the installed ipywidgets (7.7.1 in colab-check, 8 otherwise):
    shown by default in a front end, full labels at the slider's ends, image follows."""
    ipywidgets = pytest.importorskip("ipywidgets")
    monkeypatch.setattr(widgets, "in_live_kernel", lambda: True)
    monkeypatch.setattr(widgets, "live_front_end", lambda: "colab")
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (2, 16, 20, 3), dtype=np.uint8)
    label = "SRGAN (4 residual blocks, 2 epochs of 2 steps: untrained)"
    box = widgets.before_after(a, b, ("bicubic", label))
    assert isinstance(box, ipywidgets.VBox)
    view, controls = box.children
    start, slider, end = controls.children
    assert "bicubic" in start.value and label in end.value and slider.description == ""
    first = view.value
    slider.value = 0.25
    assert view.value != first
    shown = np.asarray(Image.open(io.BytesIO(view.value)))
    np.testing.assert_array_equal(shown, widgets.wipe(a, b, 0.25))


def test_rating_widget_on_this_ipywidgets(monkeypatch):
    """The rating activity on the installed ipywidgets (7.7.1 in colab-check, 8 otherwise):
    calibration by "Next", scores by the buttons and by a typed digit, then done."""
    ipywidgets = pytest.importorskip("ipywidgets")
    from srgan_lib import rating

    monkeypatch.setattr(rating, "in_live_kernel", lambda: True)
    monkeypatch.setattr(rating, "live_front_end", lambda: "colab")
    crops = [
        rating.Crop("Set5/img_001", m, np.full((8, 8, 3), v, np.uint8))
        for m, v in (("nearest", 0), ("srgan", 100), ("original", 255))
    ]
    box = rating.rating_activity(crops, seed=1)
    assert isinstance(box, ipywidgets.VBox)
    caption, view, controls = box.children
    *scores, onward, keys = controls.children
    assert [b.description for b in scores] == ["1", "2", "3", "4", "5"]
    assert "Calibration 1 of 2" in caption.value and all(b.disabled for b in scores)
    onward.click()
    onward.click()
    assert "Crop 1 of 3" in caption.value and not scores[0].disabled
    first = view.value
    scores[3].click()
    assert "Crop 2 of 3" in caption.value and view.value != first
    keys.value = "2"
    assert keys.value == "" and "Crop 3 of 3" in caption.value
    scores[0].click()
    assert "Done: 3 crops rated" in caption.value and all(b.disabled for b in scores)
    session = box.session
    assert [r["score"] for r in session.record()["ratings"]] == [4, 2, 1]
    assert [(r["image"], r["method"]) for r in session.record()["ratings"]] == [
        (c.image, c.method) for c in session.queue
    ]
