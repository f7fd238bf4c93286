"""The operator console: server-rendered pages at ``/console`` over the services the API uses."""
