"""The pinned lock (``uv.lock``) is the truth; this derives everything else from it.

    python scripts/lockfile.py export        rewrite environment.yml and binder/environment.yml
    python scripts/lockfile.py requirements  print pip requirement lines (the pip fallback of setup)
    python scripts/lockfile.py check         exit 1 when the derived files drift from the lock
    python scripts/lockfile.py newer FILE    the packages whose version in FILE (pip requirements,
                                             e.g. from `uv pip compile --upgrade`) differs from the lock

After changing dependencies in ``pyproject.toml``: ``uv lock``, then ``export``, then commit all
four files. ``tests/test_environment.py`` runs ``check``. Uses the standard library only, so the
setup script can call it before anything is installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "uv.lock"
ENV_FILES = {
    # conda users and hub images: install the course package too (editable, from the checkout)
    ROOT / "environment.yml": True,
    # Binder (repo2docker reads only binder/ when it exists): binder/postBuild installs the package
    ROOT / "binder" / "environment.yml": False,
}
HEADER = """\
# GENERATED from uv.lock by `python scripts/lockfile.py export`: do not edit by hand.
# Exact versions of every package the course uses (the same lock `./course.sh setup` installs).
"""


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def python_minor() -> str:
    """The Python the environment files ask for: the lowest one the project supports."""
    match = re.search(r">=\s*(3\.\d+)", project()["requires-python"])
    if not match:
        raise SystemExit("pyproject.toml requires-python must read like '>=3.12'")
    return match.group(1)


def locked_requirements() -> list[str]:
    """Pip requirement lines (with environment markers) for every locked package."""
    out = subprocess.run(
        [
            sys.executable, "-m", "uv", "export", "--frozen", "--no-hashes", "--no-emit-project",
            "--no-annotate", "--no-header", "--format", "requirements-txt",
        ],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip() and not line.startswith("#")]


def render(requirements: list[str], editable: bool) -> str:
    name = project()["name"]
    lines = [HEADER, f"name: {name}", "channels:", "  - conda-forge", "dependencies:",
             f"  - python={python_minor()}", "  - pip", "  - pip:"]
    lines += [f"      - {req}" for req in requirements]
    if editable:
        lines.append("      - -e .")
    return "\n".join(lines) + "\n"


def pins_in_env_file(path: Path) -> dict[str, str]:
    """``{normalized name: version}`` of the ``name==version`` lines of an environment file."""
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\s+- ([A-Za-z0-9_.\-\[\],]+)==([^ ;]+)", line)
        if m:
            pins[normalize(m.group(1).split("[")[0])] = m.group(2)
    return pins


def pins_in_lock() -> dict[str, str]:
    lock = tomllib.loads(LOCK.read_text())
    own = normalize(project()["name"])
    return {normalize(p["name"]): p["version"] for p in lock["package"] if normalize(p["name"]) != own}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    """The pip lines of an environment file, minus the editable install of the checkout."""
    lines = []
    for line in path.read_text().splitlines():
        m = re.match(r"^      - (.+)$", line)
        if m and not m.group(1).startswith("-e"):
            lines.append(m.group(1))
    return lines


def drift() -> list[str]:
    """Human-readable differences between the lock and each derived file (empty: in sync)."""
    problems = []
    locked = pins_in_lock()
    for path in ENV_FILES:
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} is missing")
            continue
        pinned = pins_in_env_file(path)
        for name in sorted(set(locked) | set(pinned)):
            if locked.get(name) != pinned.get(name):
                problems.append(
                    f"{path.relative_to(ROOT)}: {name} is {pinned.get(name, 'absent')}, "
                    f"uv.lock has {locked.get(name, 'absent')}"
                )
        if f"python={python_minor()}" not in path.read_text():
            problems.append(f"{path.relative_to(ROOT)} does not ask for python={python_minor()}")
    return problems


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd == "export":
        reqs = locked_requirements()
        for path, editable in ENV_FILES.items():
            path.parent.mkdir(exist_ok=True)
            path.write_text(render(reqs, editable))
            print(f"wrote {path.relative_to(ROOT)} ({len(reqs)} packages)")
        return 0
    if cmd == "requirements":
        print("\n".join(requirement_lines(ROOT / "environment.yml")))
        return 0
    if cmd == "newer" and len(argv) == 3:
        lock = tomllib.loads(LOCK.read_text())["package"]
        locked: dict[str, set[str]] = {}
        for package in lock:  # a package may be locked at two versions, for two Python versions
            locked.setdefault(normalize(package["name"]), set()).add(package["version"])
        changed = []
        for line in Path(argv[2]).read_text().splitlines():
            m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^ ;]+)", line)
            name = normalize(m.group(1)) if m else ""
            if m and m.group(2) not in locked.get(name, set()):
                was = ", ".join(sorted(locked.get(name, {"new"})))
                changed.append(f"  {name:28s} {was:>14s} -> {m.group(2)}")
        print(f"{len(changed)} package(s) differ from uv.lock:" if changed else "every package is at its locked version")
        print("\n".join(sorted(changed)))
        return 0
    if cmd == "check":
        problems = drift()
        for p in problems:
            print(p)
        if problems:
            print("Run `python scripts/lockfile.py export` and commit the result.")
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
