"""Protections of the running servers: the private action server, CORS, sessions, rate limits (README, "Security")."""
