"""Monitoring as code: render dashboards, rules and Kubernetes objects, and check them.

``python -m sre.render`` (``__main__``) is the command. The core is pure:
:func:`sre.render.engine.render` turns a config, dashboard JSON and rule groups into file
texts and problems; ``lint*`` hold the checks; only ``writer`` touches the disk and only
``sre.clients.promtool`` runs promtool.
"""
