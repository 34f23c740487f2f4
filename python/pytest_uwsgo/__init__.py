"""pytest-uwsgo: run a WSGI app under uwsgo in its tests.

The `uwsgo` fixture (in .plugin) starts servers; these are for tests that
want more than a URL.
"""
from .server import Server, StartError, find_binary, free_port, group_members, kill_group
from .uwsgi import Response, uwsgi_packet, uwsgi_request

__all__ = ["Server", "StartError", "find_binary", "free_port", "group_members", "kill_group",
           "Response", "uwsgi_packet", "uwsgi_request"]
