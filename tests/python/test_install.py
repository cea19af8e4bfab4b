"""`cmake --install` puts the package under the prefix's site-packages, where it imports and
finds the installed libstrata.so through its RPATH (no LD_LIBRARY_PATH, no build tree)."""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest


def test_installed_package_imports_and_runs(tmp_path):
    build = os.environ.get("STRATA_BUILD_DIR")
    cmake = shutil.which("cmake")
    if not build or not cmake:
        pytest.skip("needs STRATA_BUILD_DIR and cmake; run through ctest")
    prefix = tmp_path / "prefix"
    subprocess.run([cmake, "--install", build, "--prefix", str(prefix)], check=True,
                   stdout=subprocess.DEVNULL)
    site = sysconfig.get_path("platlib", "posix_prefix", vars={"base": str(prefix), "platbase": str(prefix)})
    assert os.path.isfile(os.path.join(site, "strata", "__init__.py")), os.listdir(prefix)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = site
    script = (
        "import numpy as np, strata, strata.torch\n"
        "assert strata.__file__.startswith(%r), strata.__file__\n"
        "with strata.Comm(1, strata.get_unique_id(), 0) as c:\n"
        "    x = np.ones(4, np.float32); c.all_reduce(x); assert (x == 1).all()\n"
        "print('OK')\n" % str(prefix)
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout
