"""One turn at a time per conversation: in-process, or across instances through Redis.

Rasa's own lock stores poll once a second, so a second message from the same person waits
a whole second even when the first took 10 ms, and its Redis store reads, changes and
writes the lock in separate round trips, so two instances can both take the same ticket.
These are first come, first served, without either problem:

- `ProcessLockStore`: an asyncio lock per conversation (one Rasa process);
- `RedisTicketLockStore`: a ticket queue kept in Redis by atomic Lua scripts; a ticket
  whose holder died (a killed instance) expires after BACLOFEN_LOCK_TTL_SECONDS and the
  queue moves on. Redis being restarted is retried with backoff.

`ConfiguredLockStore` (named in bot/endpoints.yml) picks Redis when BACLOFEN_REDIS_URL is
set, else the in-process store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 10.0  # a live holder refreshes its ticket well within this
DEFAULT_WAIT_SECONDS = 60.0  # give up waiting for a turn after this (the person gets the apology)
IDLE_SECONDS = 3600  # a conversation's counters vanish from Redis after an idle hour
POLL_SECONDS = 0.005


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class ProcessLockStore(LockStore):
    """First come, first served within one process; forgets a conversation when no one
    holds or waits for it, so memory does not grow with the number of conversations."""

    def __init__(self) -> None:
        super().__init__()
        self._entries: Dict[str, _Entry] = {}

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = 0,
                   wait_time_in_seconds: float = 0) -> AsyncGenerator[TicketLock, None]:
        entry = self._entries.setdefault(conversation_id, _Entry())
        entry.users += 1
        try:
            async with entry.lock:  # asyncio.Lock wakes waiters in arrival order
                yield TicketLock(conversation_id)
        finally:
            entry.users -= 1
            if entry.users == 0:
                self._entries.pop(conversation_id, None)


# KEYS: ticket counter, now-serving counter. ARGV: idle ms, ticket TTL ms, alive-key prefix.
# Issues the next ticket, marks it alive and returns it with the number now served.
_ISSUE = """
local t = redis.call('INCR', KEYS[1])
local s = redis.call('GET', KEYS[2])
if not s then s = t; redis.call('SET', KEYS[2], t) end
redis.call('PEXPIRE', KEYS[1], ARGV[1]); redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('SET', ARGV[3] .. t, '1', 'PX', ARGV[2])
return {t, tonumber(s)}
"""

# KEYS: now-serving. ARGV: my ticket, ticket TTL ms, alive-key prefix, idle ms.
# Keeps my ticket alive and skips tickets whose holder is gone; returns now-serving.
_POLL = """
local me = tonumber(ARGV[1])
redis.call('SET', ARGV[3] .. me, '1', 'PX', ARGV[2])
local s = tonumber(redis.call('GET', KEYS[1]) or '0')
if s == 0 or s > me then s = me; redis.call('SET', KEYS[1], me, 'PX', ARGV[4]) end
while s < me and redis.call('EXISTS', ARGV[3] .. s) == 0 do
  s = s + 1
  redis.call('SET', KEYS[1], s, 'PX', ARGV[4])
end
return s
"""

# KEYS: now-serving. ARGV: my ticket, alive-key prefix, idle ms. Hands the turn on.
_RELEASE = """
redis.call('DEL', ARGV[2] .. ARGV[1])
local s = tonumber(redis.call('GET', KEYS[1]) or '0')
if s == tonumber(ARGV[1]) then redis.call('SET', KEYS[1], s + 1, 'PX', ARGV[3]) end
return s
"""


class RedisTicketLockStore(LockStore):
    """A ticket queue per conversation in Redis, shared by every instance."""

    def __init__(self, url: str, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 wait_seconds: float = DEFAULT_WAIT_SECONDS, retry_seconds: float = 20.0,
                 key_prefix: str = "baclofen:lock:") -> None:
        import redis.asyncio as aioredis

        super().__init__()
        self.red = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.ttl_ms = int(ttl_seconds * 1000)
        self.wait_seconds = wait_seconds
        self.retry_seconds = retry_seconds
        self.prefix = key_prefix
        self._issue = self.red.register_script(_ISSUE)
        self._poll = self.red.register_script(_POLL)
        self._release = self.red.register_script(_RELEASE)

    def _keys(self, conversation_id: str) -> "tuple[str, str, str]":
        base = f"{self.prefix}{conversation_id}"
        return f"{base}:ticket", f"{base}:serving", f"{base}:alive:"

    async def _retrying(self, call: Any) -> Any:
        """Run a Redis call, retrying while Redis is unreachable (a restart)."""
        import redis.exceptions as rexc

        deadline = time.monotonic() + self.retry_seconds
        pause = 0.05
        while True:
            try:
                return await call()
            except (rexc.ConnectionError, rexc.TimeoutError) as e:
                if time.monotonic() + pause > deadline:
                    raise LockError(f"Redis lock store unreachable: {e}") from e
                logger.warning("Redis lock store unavailable (%s); retrying in %.2f s", type(e).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = 0,
                   wait_time_in_seconds: float = 0) -> AsyncGenerator[TicketLock, None]:
        ticket_key, serving_key, alive = self._keys(conversation_id)
        idle_ms = IDLE_SECONDS * 1000
        ticket, serving = await self._retrying(
            lambda: self._issue(keys=[ticket_key, serving_key], args=[idle_ms, self.ttl_ms, alive]))
        ticket, serving = int(ticket), int(serving)
        try:
            deadline = time.monotonic() + self.wait_seconds
            while serving != ticket:
                if time.monotonic() > deadline:
                    raise LockError(f"Waited {self.wait_seconds:.0f} s for conversation {conversation_id!r}")
                await asyncio.sleep(POLL_SECONDS)
                serving = int(await self._retrying(
                    lambda: self._poll(keys=[serving_key], args=[ticket, self.ttl_ms, alive, idle_ms])))
            keeper = asyncio.ensure_future(self._keep_alive(alive, ticket))
            try:
                yield TicketLock(conversation_id)
            finally:
                keeper.cancel()
        finally:
            # Even when waiting failed: hand the turn on (or drop out of the queue).
            try:
                await self._retrying(lambda: self._release(keys=[serving_key], args=[ticket, alive, idle_ms]))
            except LockError:
                logger.error("Could not release the lock of %s; it expires in %.0f s", conversation_id, self.ttl_ms / 1000)

    async def _keep_alive(self, alive: str, ticket: int) -> None:
        """Refresh the held ticket, so a long turn is not mistaken for a dead holder."""
        try:
            while True:
                await asyncio.sleep(self.ttl_ms / 3000)
                await self.red.set(f"{alive}{ticket}", "1", px=self.ttl_ms)
        except asyncio.CancelledError:
            pass
        except Exception as e:  # a failed refresh only risks the ticket expiring early
            logger.warning("Could not refresh a conversation lock: %s", e)


class ConfiguredLockStore(LockStore):
    """Named in bot/endpoints.yml: Redis when a URL is configured, else in-process."""

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:  # type: ignore[misc]
        url = (getattr(endpoint_config, "url", None) or os.environ.get("BACLOFEN_REDIS_URL", "")).strip()
        if not url:
            return ProcessLockStore()
        kwargs = dict(getattr(endpoint_config, "kwargs", None) or {})
        ttl = float(os.environ.get("BACLOFEN_LOCK_TTL_SECONDS") or kwargs.get("ttl_seconds") or DEFAULT_TTL_SECONDS)
        logger.info("Conversation locks are kept in Redis")
        return RedisTicketLockStore(url, ttl_seconds=ttl)
