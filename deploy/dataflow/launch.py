"""Dataflow flex-template entry point for ``emotrace analyze`` (FLEX_TEMPLATE_PYTHON_PY_FILE).

Two differences from the ``emotrace analyze`` command, both required by flex templates:
- the launcher must exit once the job is submitted: Dataflow's docs say not to call
  ``wait_until_finish`` (the launch VM would wait for the whole job and time out), so there is no
  end-of-run summary here; read the ``videos`` table of the run instead;
- template parameters are written with underscores (``run_id``), the CLI's options with hyphens
  (``--run-id``); this file maps one to the other for the analyze options only, so Beam's own
  options (``--temp_location``, ``--sdk_container_image``, ...) pass through unchanged.
"""

from __future__ import annotations

import argparse
import logging
import sys

import apache_beam as beam

from emotrace.pipelines import analyze
from emotrace.pipelines.options import add_analyze_args

log = logging.getLogger("emotrace")


def analyze_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emotrace-flex-template", description=__doc__)
    add_analyze_args(parser)
    return parser


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


def template_to_cli(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Template parameters -> the CLI's options; every argument that is not an analyze option as given.

    ``--frame_rate=5`` -> ``--frame-rate=5``. Flags (``--force``) arrive as ``--force=true|false``
    because a template parameter always has a value; ``true`` becomes the bare flag, ``false`` nothing.
    """
    by_flag = {s: a for a in parser._actions for s in a.option_strings if s.startswith("--")}
    out: list[str] = []
    for arg in argv:
        name, sep, value = arg.partition("=")
        action = by_flag.get(name.replace("_", "-")) if name.startswith("--") else None
        if action is None:
            out.append(arg)
        elif isinstance(action, argparse._StoreTrueAction) and sep:
            if value.lower() in _TRUE:
                out.append(name.replace("_", "-"))
            elif value.lower() not in _FALSE:
                raise SystemExit(f"{name}: expected true or false, got {value!r}")
        else:
            out.append(name.replace("_", "-") + sep + value)
    return out


def main(argv: list[str] | None = None) -> beam.runners.runner.PipelineResult:
    """Submit the job (``analyze.run`` minus the wait and the read-back summary)."""
    parser = analyze_parser()
    raw = list(sys.argv[1:] if argv is None else argv)
    args, beam_args = parser.parse_known_args(template_to_cli(raw, parser))
    options = analyze.pipeline_options(beam_args, args)  # as analyze.run: before any work
    job = analyze.prepare_job(args, beam_args, options)
    log.info("run %s: submitting the job (it reads %s itself)", job.run_id, job.input)
    pipeline = beam.Pipeline(options=options)
    analyze.build(pipeline, job)
    return pipeline.run()  # no wait_until_finish: see the module docstring


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
