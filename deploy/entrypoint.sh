#!/bin/sh
# The image's one entry point; the first argument says which server this container is.
#   rasa [extra rasa run options]     the Rasa server on $BACLOFEN_RASA_PORT (default 5005)
#   actions [extra options]           the action server on $BACLOFEN_ACTIONS_PORT (default 5055)
#   anything else                     run as a command (e.g. `bash`, `python -m knowledge.build`)
# exec: the server replaces this shell, so it receives the runtime's SIGTERM itself.
# Both servers listen on $BACLOFEN_BIND_ADDRESS (the image sets 0.0.0.0; unset: 127.0.0.1).
set -eu
cd "$(dirname "$0")/.."   # /app in the image
role="${1:-rasa}"
[ "$#" -gt 0 ] && shift

die() { echo "Error: $*" >&2; exit 64; }

# Both servers need the shared token: Rasa sends it (bot/endpoints.yml), the action server
# runs nothing without it. Refuse here with one clear line rather than a YAML traceback.
need_actions_token() {
  [ -n "${BACLOFEN_ACTIONS_TOKEN:-}" ] ||
    die "set BACLOFEN_ACTIONS_TOKEN (the same value for Rasa and the action server, e.g. \`openssl rand -hex 32\`)"
}

case "$role" in
  rasa)
    need_actions_token
    set -- --interface "${BACLOFEN_BIND_ADDRESS:-127.0.0.1}" "$@"
    # The HTTP API (models, trackers) only with authentication, and never proxied by nginx.
    if [ "${BACLOFEN_ENABLE_API:-}" = "1" ]; then
      if [ -n "${BACLOFEN_API_TOKEN:-}" ]; then
        set -- --enable-api --auth-token "$BACLOFEN_API_TOKEN" "$@"
      elif [ -n "${BACLOFEN_JWT_SECRET:-}" ]; then
        set -- --enable-api --jwt-secret "$BACLOFEN_JWT_SECRET" "$@"
      else
        die "BACLOFEN_ENABLE_API=1 needs BACLOFEN_API_TOKEN (or BACLOFEN_JWT_SECRET): without one, anyone reaching Rasa could read and rewrite every conversation"
      fi
    fi
    exec rasa run -m "$BACLOFEN_MODELS_DIR/baclofen.tar.gz" \
      --port "$BACLOFEN_RASA_PORT" \
      --credentials bot/credentials.yml --endpoints bot/endpoints.yml "$@"
    ;;
  actions)
    need_actions_token
    # rasa_sdk's app behind the token and body limits (security/action_server.py).
    exec python -m security.action_server --actions actions --port "$BACLOFEN_ACTIONS_PORT" "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
