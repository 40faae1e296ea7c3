"""Versioned prompts. Each prompt is a TOML file (``<name>.v<version>.toml``): its system and user
messages, the kind of answer it asks for and the answer's range; :meth:`Prompt.parse` applies the
matching parser from :mod:`megamath.llm.parsers`. A user's own prompt is a TOML file of the same shape.
Besides ``{text}``, a prompt may name ``fields`` of the record it is filled in with (a code file's
``{language}`` and ``{path}``, from ``meta.code``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from megamath.llm.parsers import parse_refinement, parse_score


class PromptError(ValueError):
    """A prompt file is missing or malformed."""


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    system: str
    user: str
    answer: str  # one of ANSWERS
    min_score: int = 0
    max_score: int = 5
    fields: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"

    def messages(self, text: str, values: dict | None = None) -> list[dict]:
        """The chat messages for ``text``; each of :attr:`fields` is filled from ``values`` (missing: an
        error, so that no prompt goes out with a placeholder in it)."""
        # str.replace, not str.format: documents and LaTeX are full of braces
        system, user = self.system, self.user
        for name in self.fields:
            value = (values or {}).get(name)
            if value in (None, ""):
                raise PromptError(f"prompt {self.id} needs the record's {name!r}, which it does not have")
            system, user = system.replace(f"{{{name}}}", str(value)), user.replace(f"{{{name}}}", str(value))
        messages = [{"role": "user", "content": user.replace("{text}", text)}]
        return [{"role": "system", "content": system}] + messages if system else messages

    def score_schema(self) -> dict:
        """JSON schema of a score answer, for servers that constrain decoding to it."""
        return {
            "type": "object",
            "properties": {
                "reason": {"type": "string"},
                "score": {"type": "integer", "enum": list(range(self.min_score, self.max_score + 1))},
            },
            "required": ["reason", "score"],
        }

    def parse_score(self, answer: str) -> int:
        return parse_score(answer, self.min_score, self.max_score)

    def parse_text(self, answer: str, original: str, min_ratio: float, max_ratio: float) -> str:
        return parse_refinement(answer, original, min_ratio, max_ratio)


SHIPPED = ("math_relevance", "educational_value", "refine", "code_math", "code_education", "qa_extract", "qa_refine",
           "code_to_python", "math_blocks")
# what a prompt asks for; the stage that uses it parses that kind of answer
ANSWERS = ("score", "text", "qa", "solution", "python", "blocks")


def load_prompt(name_or_path: str) -> Prompt:
    """A shipped prompt by name (newest version; ``name.vN`` for another), or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        source = path.read_text(encoding="utf-8")
    else:
        shipped = sorted((p for p in files(__package__).iterdir() if p.name.endswith(".toml")),
                         key=lambda p: p.name)
        wanted = [p for p in shipped if p.name == f"{name_or_path}.toml" or p.name.startswith(f"{name_or_path}.v")]
        if not wanted:
            raise PromptError(f"no prompt {name_or_path!r}: shipped are {', '.join(SHIPPED)}, or pass a .toml file")
        source = max(wanted, key=lambda p: int(p.name.rsplit(".v", 1)[1].split(".")[0])).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(source)
        prompt = Prompt(name=data["name"], version=int(data["version"]), system=data.get("system", ""),
                        user=data["user"], answer=data["answer"], min_score=int(data.get("min_score", 0)),
                        max_score=int(data.get("max_score", 5)), fields=tuple(data.get("fields", ())))
    except (tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise PromptError(f"prompt {name_or_path}: {exc}") from exc
    if prompt.answer not in ANSWERS or "{text}" not in prompt.user:
        raise PromptError(f"prompt {name_or_path}: answer must be one of {', '.join(ANSWERS)} and the user message "
                          "needs {text}")
    return prompt
