"""Personal data: redaction before anything is stored or logged, retention and deletion (docs/privacy.md)."""
