# The uwsgi module's Python parts run here, in the module's own namespace:
# what they define is uwsgi.<name>. Each area has its own file.
