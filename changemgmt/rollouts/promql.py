"""PromQL templates for Prometheus-backed guards: checked when saved, filled in safely per query.

A template names the ticket's values as `{change_id}`, `{feature}`, `{candidate}` (text) and
`{stage}`, `{percent}` (whole numbers), e.g.

    sum(rate(ai_errors_total{feature="{feature}",change_id="{change_id}"}[5m]))
      / sum(rate(ai_requests_total{feature="{feature}",change_id="{change_id}"}[5m]))

Text placeholders must sit inside a double-quoted PromQL string, and their values are escaped
for one (backslash, quote, newline), so a slug holding quotes and braces stays a string inside its
label matcher and cannot add a matcher or a clause. Numbers are ours (ints) and may go anywhere.
Only these five names are replaced: PromQL's own braces are left alone.
"""

import re

TEXT_PLACEHOLDERS = ("change_id", "feature", "candidate")
NUMBER_PLACEHOLDERS = ("stage", "percent")
PLACEHOLDER = re.compile(r"\{(" + "|".join(TEXT_PLACEHOLDERS + NUMBER_PLACEHOLDERS) + r")\}")
MAX_LENGTH = 2000


def escape(value: str) -> str:
    """`value` as the inside of a double-quoted PromQL string (Go's escapes)."""
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def _placeholders_outside_strings(template: str) -> list[str]:
    """Names of text placeholders that are not inside a double-quoted string."""
    outside, inside_string, escaped = [], False, False
    i = 0
    while i < len(template):
        char = template[i]
        if inside_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                inside_string = False
        elif char == '"':
            inside_string = True
        elif char == "{":
            match = PLACEHOLDER.match(template, i)
            if match and match.group(1) in TEXT_PLACEHOLDERS:
                outside.append(match.group(1))
        i += 1
    return outside


def template_problems(template: str) -> list[str]:
    """What is wrong with a guard's PromQL template ([] when it may be saved)."""
    template = template or ""
    if not template.strip():
        return ["A Prometheus guard needs a PromQL query."]
    problems = []
    if len(template) > MAX_LENGTH:
        problems.append(f"The query is longer than {MAX_LENGTH} characters.")
    if _unterminated(template):
        problems.append("The query has an unterminated string.")
    outside = _placeholders_outside_strings(template)
    if outside:
        names = ", ".join(f"{{{name}}}" for name in dict.fromkeys(outside))
        problems.append(
            f'{names} must be inside a quoted label value, e.g. feature="{{feature}}": '
            "only there is the value escaped."
        )
    return problems


def _unterminated(template: str) -> bool:
    inside_string, escaped = False, False
    for char in template:
        if inside_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                inside_string = False
        elif char == '"':
            inside_string = True
    return inside_string


def values_for(ticket, stage) -> dict[str, str]:
    """The placeholder values of `ticket` at `stage` (stage numbers count from 1, as pages do)."""
    return {
        "change_id": ticket.change_id,
        "feature": ticket.feature.slug,
        "candidate": ticket.candidate_model or ticket.prompt_version or "",
        "stage": str(int(stage.index) + 1),
        "percent": str(int(stage.percent)),
    }


def render(template: str, values: dict[str, str]) -> str:
    def fill(match):
        name = match.group(1)
        value = values[name]
        return escape(value) if name in TEXT_PLACEHOLDERS else str(int(value))

    return PLACEHOLDER.sub(fill, template)
