"""Where conversations are kept between turns, and who may work on one at a time.

- `tracker_store.py`: a durable SQL tracker store (SQLite by default, PostgreSQL by URL)
  whose cost per turn does not grow with the conversation's length.
- `lock_store.py`: one turn at a time per conversation, in-process or across instances
  through Redis.

Both are named in bot/endpoints.yml and configured by environment variables (README,
"Configuration"; docs/deploy.md).
"""
