"""One alert, built once and rendered for each channel, so email and chat never tell different stories.

An alert is a title (what happened, in one line a phone can show), a lead paragraph, and sections of
plain lines. Renderers only lay it out: no channel adds or drops facts.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["failing", "reminder", "recovered"]

_ICON = {
    "failing": "\N{LARGE RED CIRCLE}",
    "reminder": "\N{LARGE ORANGE CIRCLE}",
    "recovered": "\N{LARGE GREEN CIRCLE}",
}
_COLOR = {"failing": "#b42318", "reminder": "#b54708", "recovered": "#067647"}


@dataclass(frozen=True)
class Section:
    heading: str
    lines: tuple[str, ...]
    code: bool = False  # offending rows: shown monospaced so columns line up


@dataclass(frozen=True)
class Alert:
    key: str  # what the no-repeat state is kept under, e.g. "gate:tealeaves_daily"
    kind: Kind
    title: str
    lead: str
    sections: tuple[Section, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, URL or path)
    facts: tuple[str, ...] = field(default=(), compare=False)  # what identifies the failure, for the fingerprint

    def fingerprint(self) -> str:
        """Stable over repeats of the same failure: the key and the facts, not timestamps or run ids."""
        basis = "\n".join((self.key, *self.facts))
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    def text(self) -> str:
        parts = [self.title, "", self.lead]
        for section in self.sections:
            parts += ["", section.heading + ":"]
            parts += [("    " if section.code else "  - ") + line for line in section.lines]
        if self.links:
            parts += ["", *(f"{label}: {target}" for label, target in self.links)]
        return "\n".join(parts) + "\n"

    def html(self) -> str:
        esc = html.escape
        body = [
            f'<h2 style="color:{_COLOR[self.kind]};font-family:sans-serif">{esc(self.title)}</h2>',
            f'<p style="font-family:sans-serif">{esc(self.lead)}</p>',
        ]
        for section in self.sections:
            body.append(f'<h3 style="font-family:sans-serif">{esc(section.heading)}</h3>')
            if section.code:
                body.append("<pre>" + "\n".join(esc(line) for line in section.lines) + "</pre>")
            else:
                items = "".join(f"<li>{esc(line)}</li>" for line in section.lines)
                body.append(f'<ul style="font-family:sans-serif">{items}</ul>')
        if self.links:
            links = "".join(
                f'<li>{esc(label)}: <a href="{esc(target, quote=True)}">{esc(target)}</a></li>'
                for label, target in self.links
            )
            body.append(f'<ul style="font-family:sans-serif">{links}</ul>')
        return "<html><body>" + "\n".join(body) + "</body></html>"

    def markdown(self) -> str:
        """CommonMark for chat tools: Apprise turns it into Slack's mrkdwn and hands it to Teams as it is.

        The title is not repeated: every chat tool shows Apprise's title above the body.
        """
        parts = [f"{_ICON[self.kind]} {_escape(self.lead)}"]
        for section in self.sections:
            if section.code:
                body = "```\n" + "\n".join(section.lines).replace("```", "'''") + "\n```"
            else:
                body = "\n".join(f"- {_escape(line)}" for line in section.lines)
            parts.append(f"**{_escape(section.heading)}**\n{body}")
        if self.links:
            parts.append("\n".join(f"{_escape(label)}: {_link(target)}" for label, target in self.links))
        return "\n\n".join(parts) + "\n"


def _escape(text: str) -> str:
    """The characters that would turn plain words into markup or, in Slack, into a link or a mention."""
    for char in "\\*<>":
        text = text.replace(char, "\\" + char)
    return text


def _link(target: str) -> str:
    if target.startswith(("http://", "https://")):
        return f"[{target}]({target})"
    return f"`{target}`"  # a local path: no chat tool can link it, but people can copy it
