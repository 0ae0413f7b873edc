#!/bin/sh
# The image's one entry point; the first argument says which server this container is.
#   rasa [extra rasa run options]     the Rasa server on $BACLOFEN_RASA_PORT (default 5005)
#   actions [extra rasa_sdk options]  the action server on $BACLOFEN_ACTIONS_PORT (default 5055)
#   anything else                     run as a command (e.g. `bash`, `python -m knowledge.build`)
# exec: the server replaces this shell, so it receives the runtime's SIGTERM itself.
set -eu
cd /app
role="${1:-rasa}"
[ "$#" -gt 0 ] && shift
case "$role" in
  rasa)
    # No --enable-api: the HTTP API (models, trackers) must not face the network.
    exec rasa run -m "$BACLOFEN_MODELS_DIR/baclofen.tar.gz" \
      --port "$BACLOFEN_RASA_PORT" \
      --credentials bot/credentials.yml --endpoints bot/endpoints.yml "$@"
    ;;
  actions)
    # rasa_sdk directly: half the memory of `rasa run actions` (scripts/stack.py).
    exec python -m rasa_sdk --actions actions --port "$BACLOFEN_ACTIONS_PORT" "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
