"""Sections of bench/README.md that one benchmark writes and every other benchmark keeps.

bench/brokers.py writes the whole file (the broker table); bench/engine.py and
bench/cluster_lifecycle.py each own one section between markers named after the module; the
history of earlier runs is written by hand between its own markers.
"""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
BEGIN = {
    "history": "<!-- history: written by hand, kept by the generators -->",
    "engine": "<!-- engine: written by python -m bench.engine -->",
    "cluster_lifecycle": "<!-- cluster_lifecycle: written by python -m bench.cluster_lifecycle -->",
}


def markers(name: str) -> tuple[str, str]:
    return BEGIN[name], f"<!-- /{name} -->"


def _without(text: str, name: str) -> str:
    begin, end = markers(name)
    if begin not in text:
        return text
    return text[:text.index(begin)].rstrip() + "\n" + text[text.index(end) + len(end):]


def _current(name: str) -> str | None:
    """The section as the README holds it now (markers included), if it has one."""
    text = README.read_text() if README.exists() else ""
    begin, end = markers(name)
    if begin not in text:
        return None
    return text[text.index(begin):text.index(end) + len(end)]


def replace(text: str, name: str, body: str) -> str:
    """``text`` with section ``name`` (re)written as ``body``, appended at the end."""
    begin, end = markers(name)
    return _without(text, name).rstrip() + f"\n\n{begin}\n{body.strip()}\n{end}\n"


def keep_all(text: str) -> str:
    """``text`` (a new README) carrying every owned section the README has now."""
    for name in BEGIN:
        section = _current(name)
        if section is not None:
            text = _without(text, name).rstrip() + "\n\n" + section + "\n"
    return text
