"""Walking resiliparse's DOM by sibling links.

Indexing one of resiliparse's node lists (``child_nodes``, ``query_selector_all``) walks the list again
on every access, so a loop over one is quadratic; following sibling links is linear.
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


def child_nodes(node) -> Iterator:
    """Element and text children."""
    child = node.first_child
    while child is not None:
        yield child
        child = child.next_sibling
