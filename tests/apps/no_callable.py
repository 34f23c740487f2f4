"""A module without an `application` callable."""
something_else = 42
