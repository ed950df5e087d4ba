"""The SRE daemon: ``python -m sre.daemon --config sre.yaml`` (wiring in ``app.py``)."""
