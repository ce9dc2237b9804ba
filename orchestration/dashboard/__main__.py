"""``python -m orchestration.dashboard``: ``wa-warehouse dashboard`` without the CLI."""

from __future__ import annotations

import argparse
import sys

from orchestration.config import ConfigError
from orchestration.dashboard import add_arguments, main


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.dashboard", description="campaign analytics dashboard"
    )
    add_arguments(parser)
    try:
        return main(parser.parse_args(argv))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(run())
