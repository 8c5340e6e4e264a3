"""Command line: ``python -m batchkit demo`` and ``python -m batchkit bench``."""

from __future__ import annotations

import argparse

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m batchkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="process a synthetic image dataset on every target and compare with the plain loop",
    )
    demo.add_argument("--images", type=int, default=384, help="number of images (default 384)")
    demo.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    demo.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    demo.add_argument(
        "--latency", type=float, default=0.005, help="simulated storage latency per image, s (default 0.005)"
    )
    demo.add_argument("--no-bar", action="store_true", help="hide the progress bars")
    demo.add_argument(
        "--dask",
        action="store_true",
        help="also run the pipeline on a dask LocalCluster (127.0.0.1 only) and check its output",
    )
    bench = commands.add_parser(
        "bench",
        help="time each target against a plain loop, concurrent.futures and joblib on this machine",
    )
    bench.add_argument("--quick", action="store_true", help="a tenth of the work, one round (a smoke test)")
    bench.add_argument("--out", default=".", help="folder for bench.json and bench.png (default: here)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(
            n_images=args.images,
            batch_size=args.batch_size,
            size=args.size,
            latency=args.latency,
            bar=not args.no_bar,
            dask=args.dask,
        )
    if args.command == "bench":
        from .bench import run_bench

        run_bench(quick=args.quick, out=args.out)
        return 0
    return 2  # unreachable: argparse rejects unknown commands
