"""Delete stored conversations: one person's on request, or all those past retention.

    .venv/bin/python scripts/forget.py --sender ID [--sender ID2 …]
    .venv/bin/python scripts/forget.py --older-than DAYS
    (--url postgresql://… ; default BACLOFEN_TRACKER_URL, else var/conversations.sqlite)

Safe while the servers run: a server that kept the conversation finds it gone on the next
message (it checks the stored version every turn) and starts afresh. docs/privacy.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from conversation_store.tracker_store import (  # noqa: E402
    conversations, create_engine, default_url, delete_older_than, forget_conversation)


def _missing_sqlite_file(url: str) -> bool:
    """A mistyped SQLite path must not quietly become a new, empty store."""
    if not url.startswith("sqlite"):
        return False
    path = sa.engine.make_url(url).database
    return bool(path) and path != ":memory:" and not Path(path).exists()


def _days(raw: str) -> float:
    try:
        days = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of days") from None
    if days <= 0:
        raise argparse.ArgumentTypeError("the number of days must be more than 0")
    return days


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sender", action="append", default=[], metavar="ID",
                        help="delete everything stored for this conversation, as stored: rest:ID, socketio:ID, telegram:ID… (repeatable)")
    parser.add_argument("--older-than", type=_days, metavar="DAYS",
                        help="delete conversations quiet for more than DAYS days, and older events")
    parser.add_argument("--url", default=None, help="the conversation store's database URL")
    args = parser.parse_args(argv)
    if not args.sender and args.older_than is None:
        parser.error("say what to delete: --sender ID or --older-than DAYS")
    url = args.url or default_url()
    if _missing_sqlite_file(url):
        print(f"forget: no conversation store at {url}", file=sys.stderr)
        return 1
    engine = create_engine(url)
    try:
        if not sa.inspect(engine).has_table(conversations.name):
            print(f"forget: no conversation store at {engine.url.render_as_string(hide_password=True)}",
                  file=sys.stderr)
            return 1
        for sender in args.sender:
            rows = forget_conversation(engine, sender)
            print(f"{sender}: deleted {rows} stored rows" if rows else f"{sender}: nothing stored")
        if args.older_than is not None:
            convs, events = delete_older_than(engine, args.older_than)
            print(f"older than {args.older_than:g} days: deleted {convs} conversations and {events} events")
    except sa.exc.SQLAlchemyError as e:
        print(f"forget: the conversation store at {engine.url.render_as_string(hide_password=True)} "
              f"could not be changed ({type(e).__name__})", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
