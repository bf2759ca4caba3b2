"""Oracle nodes need numpy only: every fedledger.ml module but the Keras ones imports without
Keras or TensorFlow (checked in a fresh process; this test session may have loaded them)."""

from __future__ import annotations

import subprocess
import sys

from fedledger.config import find_root

KERAS_MODULES = {"fedledger.ml.keras_models", "fedledger.ml.training"}

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
