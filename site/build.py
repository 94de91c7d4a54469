"""Build the course site (run by `./course.sh site`).

    python site/build.py [--out DIR] [SPHINX_OPTIONS...]   the site into DIR (_build/site), warnings as errors
                                                             (-v: Sphinx's progress; -D name=value: a setting)
    python site/build.py --check-links                       check the external links (needs the internet)

The pages are staged next to the output (DIR-src): README.md as the home page (index.md), the
notebooks, and SETUP, INSTRUCTORS, GLOSSARY and CONTRIBUTING when they exist, each at its own
path, so links between them resolve as they do on GitHub; the site's own pictures (site/assets)
go to _assets. Notebooks are not executed: their committed outputs are shown.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import time
from pathlib import Path

from sphinx.cmd.build import build_main

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent
OUT = ROOT / "_build" / "site"
GUIDES = ["SETUP.md", "INSTRUCTORS.md", "GLOSSARY.md", "CONTRIBUTING.md"]


def sources(root: Path = ROOT) -> dict[str, Path]:
    """The site's pages: {path in the staged source: file in the repository}."""
    pages = {"index.md": root / "README.md"}
    pages |= {f"notebooks/{nb.name}": nb for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    pages |= {name: root / name for name in GUIDES if (root / name).is_file()}
    pages |= {f"_assets/{f.name}": f for f in sorted((SITE / "assets").iterdir())}  # pictures the pages use
    return pages


def stage(dest: Path) -> Path:
    """Copy the pages into ``dest``; unchanged files keep their time stamps, for incremental builds."""
    pages = sources()
    for old in [p for p in dest.rglob("*") if p.is_file()] if dest.exists() else []:
        if old.relative_to(dest).as_posix() not in pages:
            old.unlink()
    for rel, src in pages.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not (target.exists() and filecmp.cmp(src, target, shallow=False)):
            shutil.copy2(src, target)
    return dest


def build(out: Path = OUT, sphinx_args: list[str] = (), builder: str = "html") -> int:
    """Stage, then run Sphinx; the exit code of sphinx-build."""
    out = Path(out).resolve()
    if (out / ".buildinfo").is_file():  # an earlier build: start clean, so no page outlives its source
        shutil.rmtree(out)
    src = stage(out.with_name(out.name + "-src"))
    strict = ["-W", "--keep-going"] if builder == "html" else []
    quiet = [] if {"-v", "-vv"} & set(sphinx_args) else ["-q"]  # warnings and errors still show
    # -E: read every page each time, so a warning is never hidden by an earlier build's cache
    return build_main(["-b", builder, "-E", *strict, *quiet, "-c", str(SITE), "-d", str(out.with_name(out.name + "-doctrees")),
                       *sphinx_args, str(src), str(out)])


def main(argv: list[str]) -> int:
    argv = list(argv)
    if not (ROOT / "README.md").is_file():
        print(f"error: no README.md in {ROOT}; run this from the course checkout", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if "--check-links" in argv:
        argv.remove("--check-links")
        out = OUT.with_name("site-linkcheck")
        code = build(out, argv, builder="linkcheck")
        print(f"external links checked in {time.perf_counter() - start:.0f} s; broken ones are listed above "
              f"and in {out / 'output.txt'}", file=sys.stderr)
        return code
    out = OUT
    if "--out" in argv:
        i = argv.index("--out")
        out = Path(argv[i + 1])
        del argv[i:i + 2]
    code = build(out, argv)
    if code == 0:
        print(f"site built in {time.perf_counter() - start:.0f} s: open {out / 'index.html'}", file=sys.stderr)
    else:
        print("error: the site did not build: fix the warnings above (they count as errors)", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
