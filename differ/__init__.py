"""Turning two or three responses into a verdict. Does no I/O and imports no other room.

So far: route keys (`route_of`). Normalization, comparison and signatures come with the
replay-and-diff issue.
"""

from differ.routes import is_variable_segment, route_of, template_path

__all__ = ["is_variable_segment", "route_of", "template_path"]
