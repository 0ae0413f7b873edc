"""Rate limits per sender and per client address: token buckets, in memory or shared through Redis.

Each message costs one token from its sender's bucket (key: channel + sender id) and, on
REST and socket.io, one from its client address's bucket. A bucket holds at most `burst`
tokens and refills at `rate` tokens a second. A message is admitted only when every
bucket it draws on has a token, and only then are they charged: a refused message costs
nothing, so one sender's flood never drains the address bucket of the people behind the
same clinic NAT, and the moment a flood stops its sender has a token again within
1/rate seconds (no lock-out). A refused message is never processed and never takes the
conversation lock; it gets TOO_QUICKLY (with the emergency numbers) or HTTP 429.

Settings (read when the channels are built, i.e. at server start):
  BACLOFEN_RATE_SENDER_PER_SECOND / _BURST   0.5 / 10   a person types a message every few
                                                        seconds; ten quick button taps pass
  BACLOFEN_RATE_ADDRESS_PER_SECOND / _BURST  5 / 60     looser: many users behind one NAT
  BACLOFEN_TRUSTED_PROXIES   127.0.0.1,::1   peers whose X-Forwarded-For is believed
  BACLOFEN_RATE_EXEMPT       127.0.0.0/8,::1 client addresses never limited (this host: the
                                             start-up probe, gates, monitoring); "none" = none
  BACLOFEN_REDIS_URL         unset           set: buckets shared by all instances (Lua script)
  BACLOFEN_RATE_REFUSAL_DELAY_SECONDS  1     a REST 429 is held back this long (at most until
                                             a token is back), to slow a flooding client down
A rate or burst of 0 turns that limit off.

Redis outage: fail open to this instance's own in-memory buckets (still limited, per
instance) and retry Redis after RETRY_SECONDS. Refusing everyone because the limiter's
store is down would silence a patient in an emergency; admitting everyone unlimited
would let a flood through exactly when the system is degraded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

logger = logging.getLogger(__name__)

TOO_QUICKLY = ("You're sending messages too quickly — please wait a few seconds and try again. "
               "If this is an emergency, call 911 (or your local emergency number); for a possible "
               "overdose call Poison Control at 1-800-222-1222.")

SENDER_RATE_ENV, SENDER_BURST_ENV = "BACLOFEN_RATE_SENDER_PER_SECOND", "BACLOFEN_RATE_SENDER_BURST"
ADDRESS_RATE_ENV, ADDRESS_BURST_ENV = "BACLOFEN_RATE_ADDRESS_PER_SECOND", "BACLOFEN_RATE_ADDRESS_BURST"
TRUSTED_PROXIES_ENV, EXEMPT_ENV, REDIS_URL_ENV = "BACLOFEN_TRUSTED_PROXIES", "BACLOFEN_RATE_EXEMPT", "BACLOFEN_REDIS_URL"
DEFAULT_SENDER = (0.5, 10.0)
DEFAULT_ADDRESS = (5.0, 60.0)
DEFAULT_TRUSTED_PROXIES = "127.0.0.1,::1"
DEFAULT_EXEMPT = "127.0.0.0/8,::1"

MAX_MEMORY_BUCKETS = 100_000  # bounded memory under a flood of made-up sender ids
RETRY_SECONDS = 1.0  # after a Redis failure, use the local buckets this long before trying again
REDIS_TIMEOUT_SECONDS = 0.25  # a slow Redis must not slow every message
REFUSAL_DELAY_ENV = "BACLOFEN_RATE_REFUSAL_DELAY_SECONDS"
DEFAULT_REFUSAL_DELAY = 1.0  # how long a REST 429 is held back (refuse_request)
MAX_HELD = 2000  # refusals held back at once; more are answered at once (bounded memory)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
State = Tuple[float, float]  # (tokens, when they were counted)


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens a second
    burst: float  # bucket size

    @property
    def on(self) -> bool:
        return self.rate > 0 and self.burst > 0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until every refusing bucket has a token
    refused_by: str = ""  # "sender" or "address"


# ---- the bucket maths (the Lua script below is the same, for Redis) ----

def level(state: Optional[State], limit: Limit, now: float) -> float:
    """Tokens in a bucket at `now`: a bucket never seen (or expired) is full."""
    if state is None:
        return limit.burst
    tokens, stamp = state
    return min(limit.burst, tokens + max(0.0, now - stamp) * limit.rate)


def take(states: Sequence[Optional[State]], limits: Sequence[Limit], now: float,
         names: Sequence[str] = ()) -> Tuple[Decision, List[State]]:
    """All or nothing: one token from every bucket if each has one, else none from any."""
    levels = [level(s, lim, now) for s, lim in zip(states, limits)]
    short = [i for i, (tokens, lim) in enumerate(zip(levels, limits)) if tokens < 1.0]
    if short:
        wait = max((1.0 - levels[i]) / limits[i].rate for i in short)
        name = names[short[0]] if names else ""
        return Decision(False, wait, name), [(t, now) for t in levels]
    return Decision(True), [(t - 1.0, now) for t in levels]


def idle_seconds(limit: Limit) -> float:
    """After this long untouched a bucket is full again, so it can be forgotten."""
    return limit.burst / limit.rate


# ---- stores ----

class MemoryBuckets:
    """One process's buckets. Not thread-safe by design: Sanic runs them on one event loop,
    and take_many does not await, so no other message can interleave."""

    def __init__(self, max_buckets: int = MAX_MEMORY_BUCKETS) -> None:
        self._states: "OrderedDict[str, State]" = OrderedDict()
        self.max_buckets = max_buckets

    def take_many(self, keys: Sequence[str], limits: Sequence[Limit], names: Sequence[str]) -> Decision:
        now = time.monotonic()
        decision, states = take([self._states.get(k) for k in keys], limits, now, names)
        for key, state in zip(keys, states):
            self._states[key] = state
            self._states.move_to_end(key)
        while len(self._states) > self.max_buckets:
            self._states.popitem(last=False)  # least recently used: the longest idle, likely full
        return decision


# KEYS: bucket keys. ARGV: n, then rate, burst for each key, then optional now (seconds; else
# Redis' own clock, one clock for every instance). Returns {allowed 0/1, wait ms, index refused}.
_TAKE = """
local n = tonumber(ARGV[1])
local now = tonumber(ARGV[2 * n + 2])
if not now then local t = redis.call('TIME'); now = tonumber(t[1]) + tonumber(t[2]) / 1e6 end
local levels, short, wait = {}, 0, 0
for i = 1, n do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local s = redis.call('HMGET', KEYS[i], 'tokens', 'stamp')
  local tokens = burst
  if s[1] then tokens = math.min(burst, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * rate) end
  levels[i] = tokens
  if tokens < 1 then
    if short == 0 then short = i end
    wait = math.max(wait, (1 - tokens) / rate)
  end
end
local cost = 1
if short > 0 then cost = 0 end
for i = 1, n do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('HSET', KEYS[i], 'tokens', tostring(levels[i] - cost), 'stamp', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
end
if short > 0 then return {0, math.ceil(wait * 1000), short} end
return {1, 0, 0}
"""


class RedisBuckets:
    """Buckets shared by every instance; this instance's memory when Redis is unreachable."""

    def __init__(self, url: str, key_prefix: str = "baclofen:rate:") -> None:
        import redis.asyncio as aioredis

        self.red = aioredis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                     socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        self.prefix = key_prefix
        self._take = self.red.register_script(_TAKE)
        self.fallback = MemoryBuckets()
        self._down_until = 0.0

    async def take_many(self, keys: Sequence[str], limits: Sequence[Limit], names: Sequence[str],
                        now: Optional[float] = None) -> Decision:
        if time.monotonic() < self._down_until:
            return self.fallback.take_many(keys, limits, names)
        args: List[Any] = [len(keys)]
        for lim in limits:
            args += [repr(lim.rate), repr(lim.burst)]
        if now is not None:
            args.append(repr(now))
        try:
            allowed, wait_ms, index = await self._take(keys=[self.prefix + k for k in keys], args=args)
        except Exception as e:  # any Redis trouble: fail open to the local buckets (module docstring)
            if self._down_until == 0.0:
                logger.warning("rate limits: Redis unavailable (%s); limiting per instance until it is back",
                               type(e).__name__)
            self._down_until = time.monotonic() + RETRY_SECONDS
            return self.fallback.take_many(keys, limits, names)
        if self._down_until:
            logger.info("rate limits: Redis is back; buckets are shared again")
            self._down_until = 0.0
        if int(allowed):
            return Decision(True)
        return Decision(False, int(wait_ms) / 1000, names[int(index) - 1] if names else "")


# ---- the limiter the channels use ----

class RateLimiter:
    def __init__(self, sender: Limit, address: Limit, exempt: Sequence[Network] = (),
                 store: Union[MemoryBuckets, RedisBuckets, None] = None) -> None:
        self.sender, self.address = sender, address
        self.exempt = list(exempt)
        self.store = store if store is not None else MemoryBuckets()

    async def admit(self, channel: str, sender: Optional[str], address: Optional[str] = None) -> Decision:
        """Charge the message to its sender's and its address's buckets, or refuse it."""
        if address is not None and in_networks(address, self.exempt):
            return Decision(True)
        wanted = [(f"s:{channel}:{sender}", self.sender, "sender", bool(sender)),
                  (f"a:{address}", self.address, "address", bool(address))]
        buckets = [(key, limit, name) for key, limit, name, present in wanted if present and limit.on]
        if not buckets:
            return Decision(True)
        keys = [key for key, _, _ in buckets]
        limits = [limit for _, limit, _ in buckets]
        names = [name for _, _, name in buckets]
        if isinstance(self.store, RedisBuckets):
            decision = await self.store.take_many(keys, limits, names)
        else:
            decision = self.store.take_many(keys, limits, names)
        if not decision.allowed:
            logger.info("rate limit: %s refused on %s (retry in %.1f s)", decision.refused_by, channel,
                        decision.retry_after)
        return decision


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        logger.warning("%s=%r is not a number; using %s", name, raw, default)
        return default
    if not math.isfinite(value) or value < 0:
        logger.warning("%s=%r must be 0 or more; using %s", name, raw, default)
        return default
    return value


def networks(raw: str, name: str = "") -> List[Network]:
    """'10.0.0.0/8, 127.0.0.1' as networks; entries that are not addresses are logged and skipped."""
    found: List[Network] = []
    for item in raw.split(","):
        item = item.strip()
        if not item or item.lower() == "none":
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            logger.warning("%s: %r is not an address or network; ignored", name, item)
    return found


def _setting(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "")
    return raw if raw.strip() else default


def from_env(env: Optional[Mapping[str, str]] = None) -> RateLimiter:
    """A limiter with its own in-memory buckets (or the shared Redis ones) from the settings:
    each messaging channel's guard builds one when the server starts."""
    env = os.environ if env is None else env
    sender = Limit(_number(env, SENDER_RATE_ENV, DEFAULT_SENDER[0]), _number(env, SENDER_BURST_ENV, DEFAULT_SENDER[1]))
    address = Limit(_number(env, ADDRESS_RATE_ENV, DEFAULT_ADDRESS[0]),
                    _number(env, ADDRESS_BURST_ENV, DEFAULT_ADDRESS[1]))
    exempt = networks(_setting(env, EXEMPT_ENV, DEFAULT_EXEMPT), EXEMPT_ENV)
    url = env.get(REDIS_URL_ENV, "").strip()
    store = RedisBuckets(url) if url else MemoryBuckets()
    logger.info("rate limits: sender %s/s burst %s, address %s/s burst %s, %s", sender.rate, sender.burst,
                address.rate, address.burst, "shared through Redis" if url else "in this process")
    return RateLimiter(sender, address, exempt, store)


_configured: Optional[RateLimiter] = None


def configured() -> RateLimiter:
    """The limiter REST and socket.io share (so one address has one bucket across both),
    built from the environment on first use, when the server starts."""
    global _configured
    if _configured is None:
        _configured = from_env()
        _trusted()
        _refusal_delay()
    return _configured


# ---- client addresses ----

def in_networks(address: str, nets: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_address(peer: str, forwarded_for: Optional[str], trusted: Sequence[Network]) -> str:
    """The client: the peer, or, when the peer is a trusted proxy, the nearest X-Forwarded-For
    hop that is not one. Read from the right: nginx appends the address it saw
    ($proxy_add_x_forwarded_for), and anything further left is the client's own claim."""
    address = peer
    if not forwarded_for or not in_networks(peer, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage: trust nothing further left
        address = hop
        if not in_networks(hop, trusted):
            break
    return address


def trusted_proxies() -> List[Network]:
    return networks(_setting(os.environ, TRUSTED_PROXIES_ENV, DEFAULT_TRUSTED_PROXIES), TRUSTED_PROXIES_ENV)


def request_address(request: Any) -> str:
    """The client address of a Sanic request (also the one behind a socket.io connection)."""
    forwarded = ",".join(request.headers.getall("x-forwarded-for", []))
    return client_address(request.ip or "", forwarded or None, _trusted())


_trusted_cache: Optional[List[Network]] = None
_delay_cache: Optional[float] = None


def _refusal_delay() -> float:
    global _delay_cache
    if _delay_cache is None:
        _delay_cache = min(10.0, _number(os.environ, REFUSAL_DELAY_ENV, DEFAULT_REFUSAL_DELAY))
    return _delay_cache


def _trusted() -> List[Network]:
    global _trusted_cache
    if _trusted_cache is None:
        _trusted_cache = trusted_proxies()
    return _trusted_cache


# ---- what the channels call ----

_held = 0  # refusals being held back right now


async def refuse_request(request: Any, channel: str, sender: str) -> Optional[Any]:
    """REST: None to go on, or the HTTP 429 for a limited request (never echoes the body).

    The 429 is held back for REFUSAL_DELAY_SECONDS (an idle sleep, no CPU): a client that
    waits for each answer before sending again, as flood scripts and retrying clients do,
    is slowed to a trickle instead of keeping the one event loop busy with refusals, which
    would slow everyone else's turns. At most MAX_HELD are held; beyond that, answer at once."""
    global _held
    from sanic import response

    decision = await configured().admit(channel, sender, request_address(request))
    if decision.allowed:
        return None
    seconds = max(1, math.ceil(decision.retry_after))
    delay = min(_refusal_delay(), decision.retry_after)
    if delay > 0 and _held < MAX_HELD:
        _held += 1
        try:
            await asyncio.sleep(delay)
        finally:
            _held -= 1
    return response.json({"error": TOO_QUICKLY, "retry_after": seconds}, status=429,
                         headers={"Retry-After": str(seconds)})


async def refuse_socketio(sio: Any, sid: str, namespace: Optional[str], sender: str, bot_event: str) -> bool:
    """socket.io: True when the message is limited (it then got TOO_QUICKLY), else False."""
    environ = sio.get_environ(sid, namespace=namespace) or {}
    request = environ.get("sanic.request")
    address = request_address(request) if request is not None else None
    decision = await configured().admit("socketio", sender, address)
    if decision.allowed:
        return False
    await sio.emit(bot_event, {"text": TOO_QUICKLY}, room=sid, namespace=namespace)
    return True
