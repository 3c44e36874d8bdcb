"""The web portal: server-rendered pages in Korean and English, on the same server as the API.

It calls the same services with the same :class:`~aicc.services.principal.Principal`
as the API, so a page can never show what the API would refuse.
"""
