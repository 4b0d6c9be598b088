"""Loading the library: the env var, pkg-config, the version checks."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import pytest

import selfcompress as sc

PKG = os.path.dirname(os.path.dirname(os.path.abspath(sc.__file__)))


def test_loaded_through_env_var() -> None:
    env = os.environ.get(sc.ENV_VAR)
    assert env, "the tests run with %s set" % sc.ENV_VAR
    assert sc.library_path() == env
    assert sc.version_number() // 100 == 100 * sc.WRITTEN_FOR[0] + \
        sc.WRITTEN_FOR[1]
    assert sc.version() == "%d.%d.%d" % (
        sc.version_number() // 10000, sc.version_number() // 100 % 100,
        sc.version_number() % 100)


def test_kernels_and_blas() -> None:
    assert sc.conv_kernel() in ("avx512", "avx2", "generic")
    assert sc.blas_kernel() in sc.blas_info()
    best = sc.blas_best_coretype()
    assert best is None or best in ("SkylakeX", "Haswell", "Sandybridge")
    assert isinstance(sc.blas_kernel_suboptimal(), bool)
    assert sc.strerror(2) != sc.strerror(3)
    assert "range" in sc.strerror(2)


def _find(env: dict[str, str]) -> str:
    code = "import selfcompress as sc; print(sc.find_library())"
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def test_pkg_config_then_default_loader(tmp_path: os.PathLike[str]) -> None:
    """Without the env var pkg-config's libdir is used; without either the
    default loader's bare SONAME."""
    libdir = os.path.dirname(os.path.realpath(os.environ[sc.ENV_VAR]))
    pc = os.path.join(tmp_path, "selfcompress.pc")
    with open(pc, "w") as f:
        f.write(textwrap.dedent("""\
            libdir=%s
            Name: selfcompress
            Description: test
            Version: 0.8.0
            Libs: -L${libdir} -lselfcompress
            """ % libdir))
    env = {k: v for k, v in os.environ.items() if k != sc.ENV_VAR}
    env["PYTHONPATH"] = PKG
    env["PKG_CONFIG_PATH"] = str(tmp_path)
    env["PKG_CONFIG_LIBDIR"] = str(tmp_path)
    assert _find(env) == os.path.join(libdir, "libselfcompress.so.0")
    env["PKG_CONFIG_PATH"] = env["PKG_CONFIG_LIBDIR"] = "/nonexistent"
    env["LD_LIBRARY_PATH"] = "/nonexistent"
    found = _find(env)
    assert found in ("libselfcompress.so.0",) or found.startswith("lib")


def test_env_var_naming_a_missing_file() -> None:
    env = dict(os.environ, PYTHONPATH=PKG)
    env[sc.ENV_VAR] = "/nonexistent/libselfcompress.so.0"
    r = subprocess.run([sys.executable, "-c",
                        "import selfcompress as sc; sc.version()"], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "FileNotFoundError" in r.stderr and "/nonexistent" in r.stderr


@pytest.mark.parametrize("name", sc.__all__)
def test_every_public_name_has_a_docstring(name: str) -> None:
    obj = getattr(sc, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__doc__, name
        for attr in vars(obj) if isinstance(obj, type) else ():
            member = getattr(obj, attr)
            if not attr.startswith("_") and callable(member):
                assert member.__doc__, "%s.%s" % (name, attr)
