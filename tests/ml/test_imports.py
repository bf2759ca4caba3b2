"""Oracle nodes need numpy only: every fedledger.ml module but the Keras ones imports without
Keras or TensorFlow (checked in a fresh process; this test session may have loaded them)."""

from __future__ import annotations

import subprocess
import sys

from fedledger.config import find_root

KERAS_MODULES = {"fedledger.ml.keras_import", "fedledger.ml.keras_models", "fedledger.ml.training"}

SCRIPT = f"""
import importlib, pkgutil, sys
import fedledger.ml
names = sorted(m.name for m in pkgutil.iter_modules(fedledger.ml.__path__, "fedledger.ml."))
numpy_only = [n for n in names if n not in {sorted(KERAS_MODULES)!r}]
for name in numpy_only:
    importlib.import_module(name)
print(len(numpy_only), "keras" in sys.modules, "tensorflow" in sys.modules)
"""


def test_numpy_only_modules_do_not_import_keras() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=find_root(), capture_output=True, text=True, check=True
    )
    count, keras_loaded, tensorflow_loaded = completed.stdout.split()
    assert int(count) >= 9
    assert (keras_loaded, tensorflow_loaded) == ("False", "False")


def test_importing_keras_prints_none_of_tensorflows_start_up_lines() -> None:
    """absl's and oneDNN's native start-up lines (printed on some CPUs, whatever
    TF_CPP_MIN_LOG_LEVEL says) are dropped; what else reaches stderr is passed on."""
    script = (
        "import sys\n"
        "from fedledger.ml.keras_import import keras, start_up_lines_dropped\n"
        "with start_up_lines_dropped():\n"
        "    print('oneDNN custom operations are on', file=sys.stderr)\n"
        "    print('a real error', file=sys.stderr)\n"
        "print(keras.__version__)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=find_root(), capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip().count(".") == 2  # keras imported: its version
    assert completed.stderr == "a real error\n"
