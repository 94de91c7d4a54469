"""One lock is the truth: environment.yml and binder/ are derived from it and stay in sync."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import lockfile  # noqa: E402


def test_environment_files_match_the_lock() -> None:
    problems = lockfile.drift()
    assert not problems, "\n".join(problems) + "\nrun `python scripts/lockfile.py export`"


def test_drift_is_detected(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "environment.yml"
    text = (ROOT / "environment.yml").read_text()
    zarr = lockfile.pins_in_lock()["zarr"]
    bad.write_text(text.replace(f"zarr=={zarr}", "zarr==3.0.0"))
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "uv.lock").write_text((ROOT / "uv.lock").read_text())
    monkeypatch.setattr(lockfile, "ENV_FILES", {bad: True})
    monkeypatch.setattr(lockfile, "ROOT", tmp_path)
    monkeypatch.setattr(lockfile, "LOCK", tmp_path / "uv.lock")
    problems = lockfile.drift()
    assert problems == ["environment.yml: zarr is 3.0.0, uv.lock has " + zarr], problems


def test_installed_versions_are_the_locked_ones() -> None:
    locked = lockfile.pins_in_lock()
    for name in ["icechunk", "virtualizarr", "zarr", "xarray", "rioxarray", "obstore", "dask", "moto"]:
        assert version(name) == locked[name], f"{name} {version(name)} is installed, the lock says {locked[name]}"


def test_current_major_versions() -> None:
    majors = {name: int(version(name).split(".")[0]) for name in ["icechunk", "virtualizarr", "zarr"]}
    assert majors == {"icechunk": 2, "virtualizarr": 2, "zarr": 3}
    assert sys.version_info >= (3, 12)


def test_binder_is_self_contained() -> None:
    # repo2docker reads only binder/ when it exists: the environment and the post-build step.
    assert (ROOT / "binder" / "environment.yml").exists()
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post and "utils.machinery.sample_data" in post
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "binder/postBuild must be executable"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./course.sh test" in readme and "./course.sh test" in ci
    assert "./course.sh lab" in readme or "./course.sh\n" in readme


def test_lock_is_current_with_pyproject() -> None:
    # Every direct dependency is in the lock.
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    locked = lockfile.pins_in_lock()
    for dep in deps:
        name = lockfile.normalize(re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0])
        assert name in locked, f"{name} is in pyproject.toml but not in uv.lock: run `uv lock`"


def test_setup_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "course.sh")], check=True)


def test_newer_releases_are_reported(tmp_path: Path) -> None:
    """`./course.sh test --latest` prints which packages differ from the lock before it runs the suite."""
    locked = lockfile.pins_in_lock()
    latest = tmp_path / "requirements.txt"
    latest.write_text(f"zarr==99.0.0\nicechunk=={locked['icechunk']}\nbrand-new-package==1.0\n")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "lockfile.py"), "newer", str(latest)],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "2 package(s) differ from uv.lock:", out
    assert re.search(rf"zarr\s+{re.escape(locked['zarr'])} -> 99\.0\.0", out) and "brand-new-package" in out
    assert "icechunk" not in out


def test_latest_mode_does_not_touch_the_lock() -> None:
    script = (ROOT / "course.sh").read_text()
    body = script[script.index("latest_env() {"):script.index("\n}\n", script.index("latest_env() {"))]
    assert not re.search(r"uv\"? lock|uv sync|>\s*\S*uv\.lock", body), "the drift check must not re-lock or sync .venv"
    assert "pip compile pyproject.toml --upgrade" in body and "--output-file" in body
