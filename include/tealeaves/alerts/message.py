"""One alert, built once and rendered for each channel, so email and Slack never tell different stories.

An alert is a title (what happened, in one line a phone can show), a lead paragraph, and sections of
plain lines. Renderers only lay it out: no channel adds or drops facts.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["failing", "reminder", "recovered"]

# Slack rejects a section text over 3000 characters and a message over 50 blocks.
_SLACK_SECTION_MAX = 2900
_SLACK_BLOCKS_MAX = 45
_ICON = {"failing": ":red_circle:", "reminder": ":large_orange_circle:", "recovered": ":large_green_circle:"}
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

    def slack(self) -> dict[str, Any]:
        """An incoming-webhook payload: blocks for the app, `text` for notifications and old clients."""
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": self.title[:150], "emoji": True}},
            _mrkdwn(f"{_ICON[self.kind]} {_escape(self.lead)}"),
        ]
        for section in self.sections:
            if section.code:
                body = "```" + "\n".join(section.lines).replace("```", "'''") + "```"
            else:
                body = "\n".join(f"• {_escape(line)}" for line in section.lines)
            blocks.append(_mrkdwn(f"*{_escape(section.heading)}*\n{body}"))
        if self.links:
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"{_escape(label)}: {_link(target)}"} for label, target in self.links
                    ],
                }
            )
        return {"text": self.title, "blocks": blocks[:_SLACK_BLOCKS_MAX]}


def _mrkdwn(text: str) -> dict[str, Any]:
    if len(text) > _SLACK_SECTION_MAX:
        text = text[: _SLACK_SECTION_MAX - 20] + "\n… (cut; see email)"
        if text.count("```") % 2:
            text += "```"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(target: str) -> str:
    if target.startswith(("http://", "https://")):
        return f"<{target}>"
    return f"`{target}`"  # a local path: Slack cannot link it, but people can copy it
