"""notrain: signed, portable "do not train AI on my work" preferences.

See ``spec/`` for the protocol and :mod:`notrain.core` for the pure API.
"""

__version__ = "0.1.0"
