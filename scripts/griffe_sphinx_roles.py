"""A griffe extension for the docs site: the reST bits of sora_core's docstrings, as Markdown.

The docstrings are written for ``help()`` and editors, in reST habits: roles such as
``:class:`~sora_core.errors.SoraError``` and a paragraph ending in ``::`` before an indented
example. mkdocstrings renders docstrings as Markdown, where those show literally. This extension
(``mkdocs.yml``: ``extensions: [scripts/griffe_sphinx_roles.py]``) rewrites them while griffe
reads the code: a role becomes inline code (``~`` keeps the last name only, as Sphinx shows it),
and a trailing ``::`` becomes ``:``. Double backticks are already Markdown inline code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|ref|term):`(~?)([^`<]+?)(?:\s*<[^>]*>)?`")
_LITERAL_MARKER = re.compile(r"(\S)::$", re.MULTILINE)


def markdown(text: str) -> str:
    """``text`` with its roles as inline code and each paragraph-ending ``::`` as ``:``."""

    def role(match: re.Match[str]) -> str:
        short, target = match.group(1), match.group(2).strip()
        return f"`{target.rsplit('.', 1)[-1] if short else target}`"

    return _LITERAL_MARKER.sub(r"\1:", _ROLE.sub(role, text))


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring griffe reads with :func:`markdown`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
