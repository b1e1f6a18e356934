"""HTTP surfaces: the log as static-friendly C2SP tlog-tiles files, and the ``/v1`` JSON API."""
