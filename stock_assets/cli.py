"""``stockops``: a small CLI to prepare local state and manage the ticker partition set.

stockops init                      create the data folders and the Dagster instance config
stockops tickers list
stockops tickers add AAPL BRK-B    validate, check the provider, add partitions
stockops tickers add --defaults    the default tickers (^GSPC AAPL MSFT IBM GOOG)
stockops tickers remove AAPL
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from stock_assets.settings import Settings, get_settings

_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "config" / "dagster.yaml"


def prepare_local_state(settings: Settings) -> Path:
    """Create every local folder and DAGSTER_HOME/dagster.yaml (kept if the user edited it)."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.resolved_dagster_home)
    for folder in (
        settings.resolved_data_dir,
        home,
        settings.resolved_outputs_dir,
        settings.resolved_feast_dir,
        settings.tables_dir,
        settings.indicators_dir,
        settings.resolved_qdrant_path,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() and _DAGSTER_YAML.exists():
        shutil.copyfile(_DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home)
    if settings.replay_start:
        from stock_assets.domain.market_data.replay import start_clock

        clock = start_clock(settings.replay_clock_path, settings.replay_start)
        print(f"Replay mode: the market stands at {clock.as_of} (started {clock.start}).")
    return home


def _instance(settings: Settings):  # type: ignore[no-untyped-def]  # dagster import kept lazy
    import dagster as dg

    prepare_local_state(settings)
    return dg.DagsterInstance.get()


def _cmd_init(settings: Settings, _args: argparse.Namespace) -> int:
    home = prepare_local_state(settings)
    print(f"Data directory: {settings.resolved_data_dir}\nDAGSTER_HOME:   {home}")
    return 0


def _cmd_list(settings: Settings, _args: argparse.Namespace) -> int:
    from stock_assets.defs.registry import registered_tickers

    for ticker in registered_tickers(_instance(settings)):
        print(ticker)
    return 0


def _cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    from stock_assets.defs.registry import register_tickers
    from stock_assets.defs.resources import market_data_from_settings

    tickers = list(args.tickers) + (list(settings.default_tickers) if args.defaults else [])
    if not tickers:
        print("Name at least one ticker, or pass --defaults.", file=sys.stderr)
        return 2
    provider = market_data_from_settings(settings).provider()
    added = register_tickers(_instance(settings), provider, tickers)
    print(f"Registered: {', '.join(added)}" if added else "All already registered.")
    return 0


def _cmd_remove(settings: Settings, args: argparse.Namespace) -> int:
    from stock_assets.defs.registry import unregister_ticker

    removed = unregister_ticker(_instance(settings), args.ticker)
    print(f"Removed {args.ticker}." if removed else f"{args.ticker} was not registered.")
    return 0 if removed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stockops", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "init", help="create local folders and the Dagster instance config"
    ).set_defaults(func=_cmd_init)
    tickers = sub.add_parser("tickers", help="manage the ticker partition set")
    tsub = tickers.add_subparsers(dest="tickers_command", required=True)
    tsub.add_parser("list", help="registered tickers").set_defaults(func=_cmd_list)
    add = tsub.add_parser("add", help="register tickers")
    add.add_argument("tickers", nargs="*")
    add.add_argument("--defaults", action="store_true", help="also the default tickers")
    add.set_defaults(func=_cmd_add)
    remove = tsub.add_parser("remove", help="unregister a ticker")
    remove.add_argument("ticker")
    remove.set_defaults(func=_cmd_remove)
    return parser


def main(argv: list[str] | None = None) -> int:
    from stock_assets.domain.market_data import MarketDataError
    from stock_assets.domain.symbols import InvalidTickerError
    from stock_assets.logs import configure_logging

    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        return int(args.func(settings, args))
    except (InvalidTickerError, MarketDataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
