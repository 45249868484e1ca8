"""The pre-0.2 top-level name ``infra``, kept for one release: it is ``event_platform.infra``.

``import infra`` and ``from infra.kafka import KafkaCluster`` give the very modules of
``event_platform.infra`` (one module object per file, so classes keep their identity), with one
DeprecationWarning naming the new import. Remove in 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers ``<old>.x`` with the module ``<new>.x``, ahead of every path-based finder."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.old or fullname.startswith(f"{self.old}."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.new + spec.name[len(self.old):])

    def exec_module(self, module: ModuleType) -> None:
        """Already executed under its new name."""


def alias_package(old: str, new: str) -> ModuleType:
    """Make ``old`` (and every ``old.x``) the modules of ``new``; warn once. Returns ``new``."""
    if not any(isinstance(finder, _Alias) and finder.old == old for finder in sys.meta_path):
        sys.meta_path.insert(0, _Alias(old, new))
        warnings.warn(f"the top-level package {old!r} is deprecated and goes in event-platform 0.3: "
                      f"import {new!r} instead (from {new} import ...)", DeprecationWarning, stacklevel=3)
    module = importlib.import_module(new)
    sys.modules[old] = module
    return module
