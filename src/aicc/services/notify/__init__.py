"""Notifications: queued in the outbox by the command that caused them, delivered by the worker."""
