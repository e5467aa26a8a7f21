"""Writes deploy/dataflow/metadata.json (the flex template's parameters) from the analyze options.

The template must declare every option of ``emotrace analyze`` (Dataflow refuses undeclared template
parameters), so the file is generated from ``pipelines/options.py:add_analyze_args``, never edited by hand.
tests/deploy/test_templates.py fails when it is stale; regenerate with:

    .venv/bin/python deploy/dataflow/make_metadata.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from emotrace.pipelines.options import add_analyze_args

HERE = Path(__file__).resolve().parent
METADATA = HERE / "metadata.json"

# Template parameters use underscores (launch.py maps them back to the CLI's hyphens).
_INT = r"^[0-9]+$"
_FLOAT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_BOOL = r"^(true|false)$"
_PARAM_TYPES = {"input": "GCS_READ_FILE", "output": "GCS_WRITE_FOLDER", "model": "GCS_READ_FILE"}


def _param(action: argparse.Action) -> dict[str, Any]:
    flag = next(s for s in action.option_strings if s.startswith("--"))
    name = flag[2:].replace("-", "_")
    help_text = (action.help or name).rstrip(".")
    param: dict[str, Any] = {
        "name": name,
        "label": name.replace("_", " ").capitalize(),
        "helpText": help_text,
        "isOptional": not action.required,
    }
    if isinstance(action, argparse._StoreTrueAction):
        param["regexes"] = [_BOOL]
        param["helpText"] += " (true or false; default false)"
    elif action.choices:
        param["regexes"] = ["^(" + "|".join(map(str, action.choices)) + ")$"]
    elif action.type is int:
        param["regexes"] = [_INT]
    elif action.type is float:
        param["regexes"] = [_FLOAT]
    if action.default not in (None, False) and not isinstance(action, argparse._StoreTrueAction):
        param["helpText"] += f" (default {action.default})"
    if name in _PARAM_TYPES:
        param["paramType"] = _PARAM_TYPES[name]
    return param


def metadata() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    add_analyze_args(parser)
    actions = [a for a in parser._actions if any(s.startswith("--") for s in a.option_strings)]
    actions = [a for a in actions if not isinstance(a, argparse._HelpAction)]
    return {
        "name": "emotrace-analyze",
        "description": "Posted videos -> arousal/valence traces and a per-video status table (Parquet). "
        "Set sdk_container_image to the emotrace worker image; see docs/deploy.md.",
        "streaming": False,
        "supportsAtLeastOnce": False,
        "supportsExactlyOnce": True,
        "parameters": [_param(a) for a in actions],
    }


def render() -> str:
    return json.dumps(metadata(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    text = render()
    if check:
        current = METADATA.read_text(encoding="utf-8") if METADATA.exists() else ""
        if current != text:
            print(
                f"{METADATA} is stale: run .venv/bin/python deploy/dataflow/make_metadata.py", file=sys.stderr
            )
            return 1
        return 0
    METADATA.write_text(text, encoding="utf-8")
    print(f"wrote {METADATA} ({len(metadata()['parameters'])} parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
