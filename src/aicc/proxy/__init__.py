"""Reverse proxy to runs listening on Unix sockets (sessions, services): ``forward`` carries the bytes."""
