"""What every feature builds on, importing no feature (a test checks it).

``feature`` (the base class a feature extends), ``jobs`` (the wrapper every scheduled job
runs in), ``store`` (the state store contract and its backends), ``notices`` (how a
feature tells people something), ``metrics`` (the catalogue's metrics on a registry passed
in), ``http`` (the core endpoints and request helpers).
"""
