"""The committed notebooks: readable with outputs, built to the course's anatomy, nothing leaked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from utils.machinery.notebooks import notebooks
from utils.machinery.notebooks import CHECK, EXERCISE, SECTION, SOLUTION, TEACHING, output_text, read, tags

NOTEBOOKS = notebooks()
IDS = [p.stem for p in NOTEBOOKS]
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(/tmp|/var/folders|/private|/home|/root|/Users|/work|/opt)/[\w.\-]")
URL_ENCODED_PATH = re.compile(r"%2F(tmp|var|private|home|root|Users|work|opt)%2F", re.IGNORECASE)
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
HEADINGS = ["learning objectives", "prerequisites", "time to learn", "key points", "what's next", "further reading"]


# AWS-style secret keys are 40 characters of base64; the local cloud makes new ones at every
# start, so look for their shape: mixed case with digits (a hex digest has no upper case).
SECRET_SHAPE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
SECRET_FIELDS = re.compile(r"(secretAccessKey|secret_access_key|sessionToken|session_token)['\"]?\s*[:=]\s*['\"][^'\"*…]{8,}")


def leaked_secrets(text: str) -> list[str]:
    """Secret-looking values in ``text``: secret keys by shape, and secret fields with a value."""
    found = [m.group(0) for m in SECRET_SHAPE.finditer(text)
             if re.search("[A-Z]", m.group(0)) and re.search("[a-z]", m.group(0)) and re.search("[0-9]", m.group(0))]
    return found + [m.group(0) for m in SECRET_FIELDS.finditer(text)]


def test_secret_detector() -> None:
    assert leaked_secrets("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here")
    assert leaked_secrets("{'secretAccessKey': 'abcdefghijkl'}")
    assert not leaked_secrets("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709")
    assert not leaked_secrets("{'secretAccessKey': '****'}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_outputs_committed_and_clean(notebook: Path) -> None:
    nb = read(notebook)
    raw = notebook.read_text()
    code = [c for c in nb.cells if c.cell_type == "code"]
    not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
               and not tags(c) & {EXERCISE, SOLUTION} and c.source.strip() and c.get("execution_count") is None]
    assert not not_run, f"cells {not_run} have not been executed; run `./course.sh execute {notebook.name}`"
    assert any(c.outputs for c in code), "the notebook is committed without outputs"
    assert not ABSOLUTE_PATH.search(raw), f"absolute path in {notebook.name}: {ABSOLUTE_PATH.search(raw)}"
    assert not URL_ENCODED_PATH.search(raw), f"URL-encoded absolute path in {notebook.name}"
    assert not ADDRESS.search(raw), f"memory address in {notebook.name}: {ADDRESS.search(raw)}"
    outputs = "".join(output_text(c) for c in code)
    assert not leaked_secrets(outputs), f"secret-looking values printed in {notebook.name}: {leaked_secrets(outputs)}"
    assert "papermill" not in json.loads(raw)["metadata"], "volatile papermill metadata is committed"
    assert "widgets" not in json.loads(raw)["metadata"], "saved widget state is committed"


TIME_TO_LEARN = re.compile(r"(\d+) minutes: (\d+) core(?:, (\d+) optional)?")
STARS = ("★☆☆", "★★☆", "★★★")
ALLOWED_UTILS = re.compile(r"^\s*(from utils import (data|local_cloud|workarounds)(, (data|local_cloud|workarounds))*"
                           r"|from utils\.(data|local_cloud|workarounds) import .*|import utils\.(data|local_cloud|workarounds))\s*$")


def markdown_of(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def section_minutes(nb) -> dict[str, int]:
    """Core and optional minutes of the numbered sections."""
    minutes = {"core": 0, "optional": 0}
    for _, _, mark, n in SECTION.findall(markdown_of(nb)):
        minutes[mark] += int(n)
    return minutes


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_anatomy(notebook: Path) -> None:
    nb = read(notebook)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "starts with a title"
    markdown = markdown_of(nb)
    for heading in HEADINGS:
        assert heading in markdown.lower(), f"{notebook.name} lacks a '{heading}' section"
    assert "overview" in markdown.lower()
    params = [c for c in nb.cells if "parameters" in tags(c)]
    assert len(params) == 1 and params[0].cell_type == "code", "one code cell tagged 'parameters'"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert any(TEACHING in tags(c) for c in nb.cells), f"no cell tagged {TEACHING}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_sections_are_marked_core_or_optional_and_add_up(notebook: Path) -> None:
    nb = read(notebook)
    numbered = re.findall(r"^## \d+\..*$", markdown_of(nb), re.M)
    marked = SECTION.findall(markdown_of(nb))
    assert numbered and len(marked) == len(numbered), (
        f"every numbered section needs '(core, N min)' or '(optional, N min)': {numbered}")
    stated = TIME_TO_LEARN.search(markdown_of(nb))
    assert stated, "the time to learn reads like '35 minutes: 25 core, 10 optional'"
    total, core, optional = (int(g or 0) for g in stated.groups())
    minutes = section_minutes(nb)
    assert (core, optional, total) == (minutes["core"], minutes["optional"], core + optional), (
        f"time to learn says {stated.group(0)!r}, the sections add up to {minutes}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_exercises_stand_alone(notebook: Path) -> None:
    nb = read(notebook)
    exercises = [i for i, c in enumerate(nb.cells) if EXERCISE in tags(c)]
    if notebook.name[:2] != "00":
        assert len(exercises) >= 2, f"{notebook.name} has {len(exercises)} exercise(s); the core path needs 2 each"
        prompts = [nb.cells[i - 1].source for i in exercises]
        assert any("predict first" in p.lower() for p in prompts), "no exercise asks to predict first"
    for i in exercises:
        cell, prompt, solution = nb.cells[i], nb.cells[i - 1], nb.cells[i + 1]
        body = [line for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]
        assert not body, f"exercise cell {i} must be empty for the learner (comments only)"
        assert prompt.cell_type == "markdown" and "### Exercise" in prompt.source, f"exercise {i} needs a prompt"
        assert any(star in prompt.source for star in STARS), f"exercise {i}'s prompt has no difficulty mark"
        assert SOLUTION in tags(solution), f"exercise cell {i} must be followed by a 'solution' cell"
        assert solution.metadata.get("jupyter", {}).get("source_hidden"), f"solution {i + 1} is not collapsed"
        assert "assert" in solution.source, f"solution {i + 1} checks nothing"
        assert not solution.get("outputs"), f"solution {i + 1}'s committed output gives the answer away"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_scaffolding_stays_out_of_the_way(notebook: Path) -> None:
    nb = read(notebook)
    visible = [c for c in nb.cells if c.cell_type == "code" and not tags(c) & {CHECK, SOLUTION}
               and not c.metadata.get("jupyter", {}).get("source_hidden")]
    asserts = sum(line.lstrip().startswith("assert ") for c in visible for line in c.source.splitlines())
    assert asserts <= 5, f"{asserts} asserts in cells a learner reads: keep those that prove the prose"
    for i, cell in enumerate(nb.cells):
        if CHECK in tags(cell):
            assert cell.metadata.get("jupyter", {}).get("source_hidden"), f"check cell {i} is not collapsed"
        for line in cell.source.splitlines() if cell.cell_type == "code" else []:
            if re.match(r"\s*(from|import) utils\b", line):
                assert ALLOWED_UTILS.match(line), f"cell {i}: lessons import only utils.data, local_cloud, workarounds: {line}"


GLOSSARY = Path(__file__).resolve().parent.parent / "GLOSSARY.md"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_glossary_links_resolve(notebook: Path) -> None:
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^###? (.+)$", GLOSSARY.read_text(), re.M)}
    links = re.findall(r"GLOSSARY\.md#([\w\-]+)", markdown_of(read(notebook)))
    assert links, f"{notebook.name} links no term to the glossary"
    assert not set(links) - anchors, f"glossary anchors that do not exist: {set(links) - anchors}"


INSTRUCTORS = Path(__file__).resolve().parent.parent / "INSTRUCTORS.md"


def test_instructor_guide_matches_the_notebooks() -> None:
    """The guide's section table is the notebooks' marks, and the core path fits 3 hours with two breaks."""
    from utils.machinery.notebooks import schedule

    guide = INSTRUCTORS.read_text()
    block = re.search(r"<!-- schedule -->\n(.*?)\n<!-- end schedule -->", guide, re.S)
    assert block and block.group(1) == schedule(), "run `python -m utils.machinery.notebooks schedule` into INSTRUCTORS.md"
    path = guide[guide.index("## The 3-hour core path"):guide.index("<!-- schedule -->")]
    rows = re.findall(r"^\| (\d+:\d\d) \| (.*?) \| (\d*) \|$", path, re.M)
    minutes = {re.search(r"notebooks/(\d\d)_", what).group(1): int(n) for _, what, n in rows if "notebooks/" in what}
    core = {line.split(" | ")[0].strip("| "): int(line.split(" | ")[-2]) for line in schedule().splitlines()[2:]}
    assert minutes == core, f"the core path's minutes {minutes} are not the notebooks' core sections {core}"
    breaks = [int(n) for _, what, n in rows if what == "break"]
    assert len(breaks) == 2 and sum(minutes.values()) + sum(breaks) <= 180
    clock = [int(t.split(":")[0]) * 60 + int(t.split(":")[1]) for t, _, _ in rows]
    assert all(b - a == int(n) for (a, b, n) in zip(clock, clock[1:], [n for _, _, n in rows])), "the clock column"
