"""Institutional sign-in with OpenID Connect: the center's providers, the code flow, and linking users."""
