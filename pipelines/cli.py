"""The ``emotrace`` command: one verb per pipeline or tool."""

from __future__ import annotations

import logging
import sys


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("emotrace").setLevel(logging.INFO)


USAGE = """usage: emotrace VERB [options]

verbs:
  analyze   videos -> traces and videos Parquet tables (a Beam pipeline; Beam options pass through)
  samples   build the three bundled sample posts and their manifest

`emotrace VERB --help` shows a verb's options."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if argv else 2
    verb, rest = argv[0], argv[1:]
    _configure_logging()
    if verb == "analyze":
        from emotrace.pipelines import analyze

        summary = analyze.run(rest)
        print(summary.render())
        return 0 if summary.reconciled else 1
    if verb == "samples":
        from emotrace.datasets import sample_posts

        return sample_posts.main(rest)
    print(f"emotrace: unknown verb {verb!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
