"""Walking resiliparse's DOM by sibling links, and its selector matches as lists.

Iterating or indexing one of resiliparse's node collections (``child_nodes``, ``query_selector_all``)
costs milliseconds per element (a loop over 1,000 matches takes seconds, over 8,000 minutes):
following sibling links is linear, and a collection's ``values()`` is one native call.
"""

from __future__ import annotations

from typing import Iterator


def element_children(node) -> list:
    children = []
    child = node.first_element_child
    while child is not None:
        children.append(child)
        child = child.next_element_sibling
    return children


def matching(node, selector: str) -> list:
    """Every element below ``node`` that matches ``selector``, in document order."""
    return node.query_selector_all(selector).values()


def child_nodes(node) -> Iterator:
    """Element and text children."""
    child = node.first_child
    while child is not None:
        yield child
        child = child.next_sibling
