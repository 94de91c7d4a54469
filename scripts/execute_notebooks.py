"""Re-execute course notebooks in place, so the committed outputs are fresh.

    ./course.sh execute                      every notebook, in order
    ./course.sh execute 03_icechunk.ipynb    only some (names or paths)

Each notebook runs alone, on its offline defaults, in a fresh kernel started in notebooks/, from
an empty scratch folder, under the same offline guard as the tests. Prints each one's wall time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import GUARD_DIR, notebooks  # noqa: E402
from notebook_checks import execute  # noqa: E402


def main(argv: list[str]) -> int:
    wanted = [Path(a).name for a in argv]
    selected = [nb for nb in notebooks() if not wanted or nb.name in wanted or nb.stem in wanted]
    missing = set(wanted) - {nb.name for nb in selected} - {nb.stem for nb in selected}
    if missing:
        print(f"no such notebook: {', '.join(sorted(missing))}; see notebooks/", file=sys.stderr)
        return 2
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD_DIR), os.environ.get("PYTHONPATH")]))
    total = 0.0
    for nb in selected:
        with tempfile.TemporaryDirectory(prefix="course-scratch-") as scratch:
            start = time.perf_counter()
            execute(nb, nb, scratch=Path(scratch))
            took = time.perf_counter() - start
        total += took
        print(f"{nb.name:45s} {took:6.1f} s")
    print(f"{'total':45s} {total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
