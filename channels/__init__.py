"""Custom Rasa input channels: Rasa's own connectors behind one shared guard (channels/guard.py).

List them in credentials.yml by module path (URLs stay /webhooks/<name>/webhook):

    channels.rest.GuardedRestInput:              # /webhooks/rest/webhook
    channels.socketio.GuardedSocketIOInput:      # web widget, /socket.io
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
    channels.telegram.GuardedTelegramInput:      # TELEGRAM_TOKEN, TELEGRAM_SECRET_TOKEN, TELEGRAM_WEBHOOK_URL
    channels.twilio.GuardedTwilioInput:          # TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_NUMBER, TWILIO_WEBHOOK_URL
    channels.slack.GuardedSlackInput:            # SLACK_TOKEN, SLACK_SIGNING_SECRET
    channels.facebook.GuardedFacebookInput:      # FACEBOOK_VERIFY_TOKEN, FACEBOOK_APP_SECRET, FACEBOOK_PAGE_ACCESS_TOKEN

Each messaging channel reads its secrets from credentials.yml (`key: ${ENV_VAR}`, unquoted)
or, when a key is absent, from the environment variable named in its module docstring, and
refuses to start without the secret that authenticates its webhooks.
"""
