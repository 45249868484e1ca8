"""Validate a rendered manifest tree, or gate a change by diffing two renders.

    python -m event_platform.policy.check_render check rendered/prod --environment prod
    python -m event_platform.policy.check_render gate base-render/prod rendered/prod

Prints one line per finding (file, object, JSON path, message) and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from event_platform.infra import artifacts
from event_platform.policy import operator_crds, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="schemas, references and policies of one render")
    check.add_argument("folder", type=Path)
    check.add_argument("--environment", choices=["dev", "prod"], required=True)
    check.add_argument("--kubernetes-version", default=render.KUBERNETES_VERSION)
    gate = sub.add_parser("gate", help="fail when the change deletes or replaces stateful objects")
    gate.add_argument("base", type=Path)
    gate.add_argument("head", type=Path)
    args = parser.parse_args(argv)

    if args.command == "check":
        objects = render.load(args.folder)
        if not objects:
            print(f"{args.folder}: no manifests found (run make render first)")
            return 1
        source = artifacts.ArtifactSource.from_settings(None)
        sections = {
            "schema": render.schema_findings(objects, args.kubernetes_version,
                                             operator_crds.runtime_crds(objects, source)),
            "references": render.reference_findings(objects),
            "policy": render.policy_findings(objects, args.environment),
        }
        print(f"{args.folder}: {len(objects)} objects")
    else:
        sections = {"replacement": render.replacement_findings(render.load(args.base), render.load(args.head))}
    failed = False
    for section, findings in sections.items():
        print(f"{section}: {'ok' if not findings else f'{len(findings)} problem(s)'}")
        for finding in findings:
            print(f"  {finding}")
        failed = failed or bool(findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
