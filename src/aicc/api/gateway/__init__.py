"""The gateway: ``/svc/<project>/<name>/…`` to a healthy replica of that service, with its API keys."""
