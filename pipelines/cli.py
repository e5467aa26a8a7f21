"""The ``emotrace`` command: one verb per pipeline or tool."""

from __future__ import annotations

import logging
import os
import sys


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("emotrace").setLevel(logging.INFO)


USAGE = """usage: emotrace VERB [options]

verbs:
  analyze   videos -> traces and videos Parquet tables (a Beam pipeline; Beam options pass through)
  samples   build the three bundled sample posts and their manifest
  synth     build a labelled synthetic audio-visual corpus (latent arousal/valence drive face and voice)
  train     labelled videos (RECOLA / manifest / synthetic) -> model bundle; --demo: the demo bundle
  evaluate  CCC per dimension and modality condition of a bundle on labelled videos
  aggregate traces -> per-post or per-user summaries as Parquet (a Beam pipeline)
  plot      one post's trace over time (--post-id) or a user's posts on the valence-arousal plane

`emotrace VERB --help` shows a verb's options."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if argv else 2
    verb, rest = argv[0], argv[1:]
    _configure_logging()
    from emotrace.pipelines.options import UsageError

    try:
        return _run_verb(verb, rest)
    except UsageError as err:  # a command line that cannot run: one line, exit 2, before any work
        print(f"emotrace {verb}: error: {err}", file=sys.stderr)
        return 2


def _run_verb(verb: str, rest: list[str]) -> int:
    if verb == "analyze":
        from emotrace.transforms.worker import configure_worker, launcher_imports

        # Before the first big allocation: memory flat in video length (issue 6). Only here: training
        # holds no stream, and its large tensors would pay page faults on every step (~20 % of its time).
        configure_worker()
        with launcher_imports():  # no collections while Beam and torch import, then frozen
            from emotrace.pipelines import analyze
        try:
            summary = analyze.run(rest)
        except analyze.ReconciliationError as err:
            print(err, file=sys.stderr)
            return 1
        print(summary.render())
        return 0
    if verb == "samples":
        from emotrace.datasets import sample_posts

        return sample_posts.main(rest)
    if verb == "synth":
        from emotrace.datasets import synth

        return synth.main(rest)
    if verb == "train":
        from emotrace.pipelines import train

        return train.run(rest)
    if verb == "evaluate":
        from emotrace.pipelines import evaluate

        return evaluate.run(rest)
    if verb == "aggregate":
        from emotrace.pipelines import aggregate

        print(f"wrote {aggregate.run(rest)}")
        return 0
    if verb == "plot":
        from emotrace.pipelines import plot

        return plot.main(rest)
    print(f"emotrace: unknown verb {verb!r}\n\n{USAGE}", file=sys.stderr)
    return 2


def console_main() -> None:
    """The ``emotrace`` console script: ``main``, then exit without interpreter teardown.

    Native thread pools can abort the process while Python tears down ("terminate called without an
    active exception", exit 134) after every output was written and closed; a successful run must not exit
    non-zero for that. One cause found and fixed at its source: pyarrow's threaded reads of the run's
    Parquet for the summary (``transforms.io.read_parquet``); this exit stays as the guard for others
    (onnxruntime, torch, ffmpeg reader threads). Output streams and logging are flushed first.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    console_main()
