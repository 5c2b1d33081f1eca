"""A built wheel works outside the checkout: it carries the catalogue and the rules.

The wheel is built from this checkout and installed into a fresh virtual environment
in a temporary folder. The environment borrows the test environment's dependencies
through a ``.pth`` line (a folder named there is put on ``sys.path`` without running its
own ``.pth`` files, so the editable install of this checkout stays out), and every
command runs from the temporary folder, so nothing can be read from the checkout.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python of the fresh environment, a working folder outside the checkout)."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(CHECKOUT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if build.returncode != 0 and "Could not find a version" in build.stderr:
        pytest.skip("no package index to build the wheel with")
    assert build.returncode == 0, build.stderr[-2000:]
    shutil.rmtree(CHECKOUT / "build", ignore_errors=True)  # setuptools' scratch folder
    wheel = next(dist.glob("lifeevents-*.whl"))
    env_dir = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        timeout=300,
    )
    work = base / "work"
    work.mkdir()
    shutil.copy(CHECKOUT / "examples" / "newborn.json", work / "newborn.json")
    return python, work


def _run(python: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], cwd=work, capture_output=True, text=True, timeout=300)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    python, work = installed
    where = _run(python, work, "-c", "import engine, ui; print(engine.__file__); print(ui.__file__)")
    assert where.returncode == 0, where.stderr
    assert str(CHECKOUT) not in where.stdout
    root = _run(python, work, "-c", "from engine.language.rulesroot import rules_root; print(rules_root())")
    assert root.stdout.strip().endswith("engine/_rules"), root.stdout


def test_the_wheel_recommends_and_validates_its_own_rules(installed):
    python, work = installed
    validate = _run(python, work, "-m", "engine", "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    rec = _run(python, work, "-m", "engine", "recommend", "newborn.json", "--json")
    assert rec.returncode == 0, rec.stderr
    out = json.loads(rec.stdout)
    by_id = {r["service"]: r for r in out["results"]}
    assert by_id["labor-insurance-maternity-benefit"]["status"] == "eligible"
    assert len(out["results"]) == 46


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_the_wheel_serves_the_api(installed):
    pytest.importorskip("uvicorn")
    python, work = installed
    port = _free_port()
    server = subprocess.Popen(
        [str(python), "-m", "engine", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = json.loads(_get(f"http://127.0.0.1:{port}/health", time.monotonic() + 90))
        assert health["status"] == "ok" and health["services"] == 46
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("page", ["app.py", "staff_app.py"])
def test_the_wheel_runs_the_streamlit_apps(installed, page):
    pytest.importorskip("streamlit")
    python, work = installed
    script = (
        "import sys, ui; from pathlib import Path; from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file(str(Path(ui.__file__).parent / {page!r}), default_timeout=120)\n"
        "at.run()\n"
        "assert not at.exception, [e.message for e in at.exception]\n"
        "print('ran', len(at.main))\n"
    )
    ran = _run(python, work, "-c", script)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.startswith("ran")
