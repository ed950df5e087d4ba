"""YAML to Python objects straight from the parser's events, without PyYAML's node tree.

``yaml.load`` first composes the whole document into nodes (each with two position marks),
then constructs the objects from them: for a config of 30,000 probe targets the node tree
alone is about 120 MB, on top of the objects it becomes, and a process's resident memory
seldom shrinks back afterwards. Here the objects are built while libyaml's parser streams
its events, so a large config costs what its objects cost.

Nothing is parsed or interpreted by hand: the events come from PyYAML's (libyaml's) parser,
each scalar's tag from PyYAML's resolver and its value from PyYAML's safe constructors, so
``1``, ``yes``, ``2026-11-29``, ``~`` or ``!!str 1`` mean what they mean to ``yaml.safe_load``.
A scalar its constructor cannot read (``!!timestamp soon``, on which PyYAML itself fails
with an ``AttributeError``) is a ``ConstructorError`` with its line. What this path leaves
out (merge keys ``<<``, explicitly tagged collections such as ``!!set``, several documents,
an undefined alias) is handed to ``yaml.load`` whole, which builds it or reports the error
in its own words.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml import events as ev
from yaml.constructor import ConstructorError
from yaml.nodes import ScalarNode

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where available
MAP, SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("null", "bool", "int", "float", "binary", "timestamp", "str")
}
NO_KEY = object()  # a mapping waiting for its next key


class LeftToPyYAML(Exception):
    """The document uses something only ``yaml.load`` builds (or reports): use it."""


def load(text: str) -> Any:
    """What ``yaml.load(text, Loader=CSafeLoader)`` returns, with no node tree in memory."""
    try:
        return _build(text)
    except LeftToPyYAML:
        try:
            return yaml.load(text, Loader=LOADER)
        except (ValueError, TypeError, AttributeError, KeyError) as err:  # PyYAML's slips
            raise yaml.YAMLError(f"a value PyYAML cannot read ({type(err).__name__})") from None


def _build(text: str) -> Any:
    scalars = yaml.SafeLoader("")  # PyYAML's resolver and constructors, not its parser
    anchors: dict[str, Any] = {}
    stack: list[list[Any]] = []  # [the dict or list being built, its pending key]
    root: Any = None
    documents = 0

    def remember(anchor: str, value: Any) -> None:
        if anchor in anchors:
            raise LeftToPyYAML  # PyYAML reports the duplicate anchor
        anchors[anchor] = value

    def add(value: Any) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        container = top[0]
        if isinstance(container, list):
            container.append(value)
        elif top[1] is NO_KEY:
            try:
                hash(value)
            except TypeError:
                raise LeftToPyYAML from None  # PyYAML names the unhashable key
            top[1] = value
        else:
            container[top[1]] = value
            top[1] = NO_KEY

    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, ev.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = scalars.resolve(ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
            if tag not in SCALAR_TAGS:  # a merge key, a collection tag, an unsafe one
                raise LeftToPyYAML
            construct = scalars.yaml_constructors[tag]
            mark: Any = event.start_mark  # libyaml's Mark, which the stubs do not name
            node = ScalarNode(tag, event.value, mark, event.end_mark, event.style)  # type: ignore[arg-type]
            try:
                value = construct(scalars, node)
            except (ValueError, TypeError, AttributeError, KeyError) as err:  # PyYAML's own
                short = tag.rsplit(":", 1)[-1]
                why = f"{event.value!r} is not a valid {short} ({type(err).__name__})"
                raise ConstructorError(None, None, why, mark) from None
            if event.anchor is not None:
                remember(event.anchor, value)
            add(value)
        elif isinstance(event, ev.MappingStartEvent | ev.SequenceStartEvent):
            mapping = isinstance(event, ev.MappingStartEvent)
            if event.tag not in (None, "!", MAP if mapping else SEQ):
                raise LeftToPyYAML
            container: Any = {} if mapping else []
            if event.anchor is not None:
                remember(event.anchor, container)
            add(container)  # filled in place as its events arrive
            stack.append([container, NO_KEY])
        elif isinstance(event, ev.MappingEndEvent | ev.SequenceEndEvent):
            stack.pop()
        elif isinstance(event, ev.AliasEvent):
            if event.anchor not in anchors:
                raise LeftToPyYAML
            add(anchors[event.anchor])
        elif isinstance(event, ev.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise LeftToPyYAML
    return root
