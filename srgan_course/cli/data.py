"""`srgan data download | list`: the data sets, fetched once and cached."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    data_parser = commands.add_parser("data", help="download and cache data sets")
    data_commands = data_parser.add_subparsers(dest="data_command", required=True)
    download = data_commands.add_parser("download", help="download (or find cached) sets")
    download.add_argument(
        "names", nargs="+", metavar="NAME", help="Set5, Set14, BSD100, Urban100 or DIV2K"
    )
    _add_root(download)
    download.add_argument(
        "--mirror",
        default=None,
        metavar="URL",
        help="fetch from a mirror that serves the same paths",
    )
    download.set_defaults(func=run_download)
    listing = data_commands.add_parser("list", help="the known sets and where they are cached")
    _add_root(listing)
    listing.set_defaults(func=run_list)


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", default=None, help="cache folder (default: $SRGAN_DATA_DIR, else data/)"
    )


def run_download(args: argparse.Namespace) -> int:
    from srgan_lib import downloads

    unknown = [name for name in args.names if name not in downloads.KNOWN_DATASETS]
    if unknown:
        raise ValueError(
            f"unknown data set {unknown[0]!r}; known: {', '.join(downloads.KNOWN_DATASETS)}."
        )
    args.stopped_hint = "run the same command again to resume the download"
    for name in args.names:
        folder = downloads.download(name, args.root, base_url=args.mirror)
        print(f"{name}: {folder}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from srgan_lib import downloads

    root = downloads.data_dir(args.root, create=False)
    found = downloads.find_benchmarks()
    print("| set | files | cached in " + str(root) + " |")
    print("| --- | ---: | --- |")
    for name in downloads.KNOWN_DATASETS:
        cached = "yes" if downloads.is_cached(name, root) else "no"
        print(f"| {name} | {len(downloads.REMOTES[name].files)} | {cached} |")
    print(f"benchmarks found for evaluation: {found or 'none (srgan data download Set5 ...)'}")
    return 0
