"""scikit-learn's own tests of its MLPs, run against fastbp.sklearn.

The installed scikit-learn's ``neural_network/tests/test_mlp.py`` is copied
with one line changed, its import of MLPClassifier and MLPRegressor, and run
in a subprocess: what a user switching by the import would meet. All of them
run, the Poisson regression test included.

It compiles kernels for many configurations (about 25 s of one core), and CI
runs within 10 minutes with little to spare (548 s in a simulation with this
test included), so it runs when ``FASTBP_SKLEARN_SUITE=1`` is set:
``FASTBP_SKLEARN_SUITE=1 python -m pytest tests/test_sklearn_suite.py``.
test_sklearn.py checks the behaviours it found missing one by one.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")

SUITE = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("FASTBP_SKLEARN_SUITE") != "1",
                    reason="set FASTBP_SKLEARN_SUITE=1 to run scikit-learn's own MLP tests (25 s of compiling)")
@pytest.mark.skipif(not SUITE.exists(), reason="this scikit-learn install ships without its tests")
def test_sklearns_own_mlp_tests_pass(tmp_path):
    source = SUITE.read_text()
    assert source.count(IMPORT) == 1, "scikit-learn changed how its MLP tests import the estimators"
    (tmp_path / "test_mlp.py").write_text(source.replace(IMPORT, "from fastbp.sklearn import MLPClassifier, "
                                                                 "MLPRegressor"))
    # Apart from fastbp's own conftest; scikit-learn's conftest gives its tests this fixture (42 unless
    # SKLEARN_TESTS_GLOBAL_RANDOM_SEED asks for others), here with one more seed.
    (tmp_path / "conftest.py").write_text("import pytest\n\n\n@pytest.fixture(params=[0, 42])\n"
                                          "def global_random_seed(request):\n    return request.param\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-p", "no:xdist",
         "test_mlp.py"],
        cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"),
        timeout=600)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 55, summary       # 58 of scikit-learn 1.9's tests run here (2 skip on their own)
