#!/usr/bin/env bash
# The one entry point of the course.
#
#   ./course.sh            set everything up, then open the course in JupyterLab
#   ./course.sh lab [ARGS] the same; ARGS go to `jupyter lab` (e.g. --no-browser --ip 0.0.0.0)
#   ./course.sh setup      set everything up and stop (for scripts and hub images)
#   ./course.sh test [ARGS] set everything up, then run the whole test suite (ARGS go to pytest)
#   ./course.sh test --latest [ARGS]  the same against the newest releases of every dependency, in a
#                          temporary environment (uv.lock untouched): run it before each workshop
#   ./course.sh execute [NOTEBOOK...]  re-execute notebooks in place, so their outputs are committed
#   ./course.sh learner [FOLDER]  learner copies of the notebooks (no solutions, no outputs) in learner/
#   ./course.sh bench      set up, then run the benchmark script
#   ./course.sh site [--check-links]  build the course as a static site into _build/site (offline;
#                          --check-links checks its external links instead, which needs the internet)
#   ./course.sh hub-link HUB_URL  print the nbgitpuller link that opens the course on that JupyterHub
#
# Setting up means: find (or provision) a Python >= 3.12, create .venv, install the pinned
# lock (uv.lock) with uv, falling back to pip, install the course's `utils` package, and make
# the sample data. Every step is safe to run again; a second run takes seconds.
#
# Environment knobs:
#   COURSE_PYTHON=/path/to/python   use this interpreter (must be >= 3.12)
#   COURSE_NO_NETNS=1               test without the loopback-only network namespace
#   COURSE_REQUIRE_BROWSER=1        fail (not skip) the browser tests when Chromium or
#                                   configurable-http-proxy is missing (CI sets it)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(pwd)"
VENV="$ROOT/.venv"
MIN_MINOR=12

say() { printf '\033[1m[course]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[course] error:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. a Python >= 3.12 ------------------------------------------------------------------

python_ok() {
    # A usable interpreter: runs, is >= 3.12, and can make a virtual environment.
    [ -n "${1:-}" ] && [ -x "$(command -v "$1" 2>/dev/null || echo "$1")" ] || return 1
    "$1" -c "import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, $MIN_MINOR) else 1)" \
        >/dev/null 2>&1
}

find_python() {
    local cand
    if [ -n "${COURSE_PYTHON:-}" ]; then
        python_ok "$COURSE_PYTHON" && { echo "$COURSE_PYTHON"; return; }
        die "COURSE_PYTHON=$COURSE_PYTHON is not a working Python >= 3.$MIN_MINOR with venv; unset it or point it at one."
    fi
    # An existing course environment, then interpreters on PATH (conda's included, when active).
    for cand in "$VENV/bin/python" python3.12 python3.13 python3 python; do
        python_ok "$cand" && { command -v "$cand"; return; }
    done
    # pyenv installs that are not the active version.
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    if command -v pyenv >/dev/null 2>&1; then pyenv_root="$(pyenv root)"; fi
    for cand in $(ls -d "$pyenv_root"/versions/3.12* "$pyenv_root"/versions/3.1[3-9]* 2>/dev/null); do
        python_ok "$cand/bin/python" && { echo "$cand/bin/python"; return; }
    done
    # conda installed but not active: make a private Python for the course.
    if command -v conda >/dev/null 2>&1; then
        say "no Python >= 3.$MIN_MINOR found; creating one with conda in .course/python"
        conda create -y -q -p "$ROOT/.course/python" "python=3.$MIN_MINOR" >&2 \
            && python_ok "$ROOT/.course/python/bin/python" \
            && { echo "$ROOT/.course/python/bin/python"; return; }
    fi
    # uv can download a standalone Python (needs internet access to its Python builds).
    if command -v uv >/dev/null 2>&1; then
        say "no Python >= 3.$MIN_MINOR found; asking uv to provide one"
        cand="$(uv python find ">=3.$MIN_MINOR" 2>/dev/null || true)"
        if [ -z "$cand" ]; then
            uv python install "3.$MIN_MINOR" >&2 && cand="$(uv python find ">=3.$MIN_MINOR" 2>/dev/null || true)"
        fi
        python_ok "$cand" && { echo "$cand"; return; }
    fi
    die "no Python >= 3.$MIN_MINOR found (icechunk 2 needs it).
  Install one, then run this command again. Any of these works:
    - your system packages, e.g. 'sudo apt install python3.12 python3.12-venv'
    - pyenv:  'pyenv install 3.12'
    - conda:  'conda create -n py312 python=3.12 && conda activate py312'
    - uv:     'pip install uv && uv python install 3.12'
  or point COURSE_PYTHON at an interpreter you already have."
}

# --- 2. the pinned environment -------------------------------------------------------------

lock_version() { # version of a package pinned in uv.lock
    "$1" - "$2" <<'EOF'
import sys, tomllib
lock = tomllib.load(open("uv.lock", "rb"))
print(next(p["version"] for p in lock["package"] if p["name"] == sys.argv[1]))
EOF
}

install_env() {
    local py="$1"
    if [ ! -x "$VENV/bin/python" ] || ! python_ok "$VENV/bin/python"; then
        say "creating .venv with $("$py" --version 2>&1)"
        rm -rf "$VENV"
        "$py" -m venv "$VENV"
    fi
    local vpy="$VENV/bin/python" uv_version
    uv_version="$(lock_version "$vpy" uv)"
    if [ "$("$VENV/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$uv_version" ]; then
        say "installing uv $uv_version into .venv"
        "$vpy" -m pip install -q --disable-pip-version-check "uv==$uv_version" >&2 || true
    fi
    if [ -x "$VENV/bin/uv" ]; then
        # --compile-bytecode: imports read ready-made .pyc files, even where PYTHONDONTWRITEBYTECODE
        # is set (hub images often set it): a notebook's imports take half the time or less.
        say "installing the pinned lock with uv"
        if UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT="$VENV" \
            "$VENV/bin/uv" sync --locked --quiet --compile-bytecode --python "$vpy" >&2; then
            return
        fi
        say "uv could not install the lock; falling back to pip"
    else
        say "uv is not available; installing the lock with pip (slower)"
    fi
    "$vpy" scripts/lockfile.py requirements > "$ROOT/.course-requirements.txt"
    "$vpy" -m pip install -q --disable-pip-version-check -r "$ROOT/.course-requirements.txt" >&2 \
        || die "pip could not install the pinned packages (see above). Check your internet access to the Python package index and run again."
    rm -f "$ROOT/.course-requirements.txt"
    "$vpy" -m pip install -q --disable-pip-version-check --no-deps -e . >&2
}

setup() {
    local py
    py="$(find_python)"
    install_env "$py"
    export PATH="$VENV/bin:$PATH"
    # Kernels from the course environment win over any user-wide "python3" kernel.
    export JUPYTER_PATH="$VENV/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
    "$VENV/bin/python" -m compileall -q utils >/dev/null  # the course's own modules too (see install_env)
    say "making the sample data (skipped when already there)"
    "$VENV/bin/python" -m utils.machinery.sample_data >&2 || die "the sample data could not be made (see above)."
    say "ready: $("$VENV/bin/python" --version), environment in .venv"
}

# --- 3. the test suite, loopback-only ------------------------------------------------------

netns_works() {
    [ -z "${COURSE_NO_NETNS:-}" ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 \
        && unshare -rn sh -c 'ip link set lo up' >/dev/null 2>&1
}

run_tests() {
    # Notebooks run in parallel, one per core; each keeps its papermill-then-nbval order (tests/conftest.py).
    PARALLEL="-n ${COURSE_TEST_WORKERS:-auto} --dist loadgroup"
    if netns_works; then
        say "running the tests in a network namespace that has only loopback"
        export COURSE_NETNS=1
        exec unshare -rn sh -c 'ip link set lo up && exec "$@"' sh \
            "$VENV/bin/python" -m pytest $PARALLEL "$@"
    fi
    say "running the tests (no network namespace here; the Python-level offline guard still applies)"
    exec "$VENV/bin/python" -m pytest $PARALLEL "$@"
}

# --- 4. the drift check: the whole suite against the newest releases ------------------------

latest_env() {
    # Resolve the newest releases of every dependency into a temporary environment; uv.lock stays.
    local dir="${COURSE_LATEST_DIR:-$ROOT/.course/latest}"
    rm -rf "$dir" && mkdir -p "$dir"
    say "resolving the newest releases of the course's dependencies (uv.lock is not touched)"
    "$VENV/bin/uv" pip compile pyproject.toml --upgrade --quiet --python "$VENV/bin/python" \
        --output-file "$dir/requirements.txt" >&2 || die "could not resolve the newest releases (are you online?)"
    "$VENV/bin/uv" venv --quiet --python "$VENV/bin/python" "$dir/venv" >&2
    "$VENV/bin/uv" pip install --quiet --python "$dir/venv/bin/python" -r "$dir/requirements.txt" >&2 \
        || die "could not install the newest releases (see above)"
    "$VENV/bin/uv" pip install --quiet --python "$dir/venv/bin/python" --no-deps -e . >&2
    "$VENV/bin/python" scripts/lockfile.py newer "$dir/requirements.txt" >&2
    say "running the tests against them: what fails is what the next upgrade of uv.lock must fix"
    VENV="$dir/venv"
    export PATH="$VENV/bin:$PATH" JUPYTER_PATH="$VENV/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
}

cmd="${1:-lab}"
[ $# -gt 0 ] && shift
case "$cmd" in
    lab)
        setup
        if [ "$(id -u)" = 0 ]; then
            say "running as root (as in many containers): starting JupyterLab with --allow-root"
            set -- --allow-root "$@"
        fi
        exec "$VENV/bin/jupyter" lab --notebook-dir="$ROOT" "$@" "notebooks/00_setup_check.ipynb"
        ;;
    setup) setup ;;
    test)
        setup
        if [ "${1:-}" = "--latest" ]; then
            shift
            latest_env
        fi
        run_tests "$@"
        ;;
    execute)
        setup
        exec "$VENV/bin/python" -m utils.machinery.notebooks execute "$@"
        ;;
    learner)
        setup
        exec "$VENV/bin/python" -m utils.machinery.notebooks learner "$@"
        ;;
    bench)
        setup
        exec "$VENV/bin/python" scripts/benchmark.py "$@"
        ;;
    site)
        setup
        exec "$VENV/bin/python" site/build.py "$@"
        ;;
    hub-link)
        [ $# -eq 1 ] || die "usage: ./course.sh hub-link HUB_URL (e.g. https://hub.example.org)"
        [ -x "$VENV/bin/python" ] || setup
        exec "$VENV/bin/python" scripts/links.py hub "$1"
        ;;
    -h|--help|help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p;}' "$0" ;;
    *) die "unknown command '$cmd'. Try: ./course.sh help" ;;
esac
