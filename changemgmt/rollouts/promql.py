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
    candidate = ticket.candidate_model or ticket.prompt_version or ""
    return values_of(ticket.change_id, ticket.feature.slug, candidate, stage.index, stage.percent)


def values_of(change_id: str, feature: str, candidate: str, index: int, percent: int) -> dict:
    """values_for from plain values (the sweeper reads rows, not model instances)."""
    return {
        "change_id": change_id,
        "feature": feature,
        "candidate": candidate,
        "stage": str(int(index) + 1),
        "percent": str(int(percent)),
    }


def render(template: str, values: dict[str, str]) -> str:
    def fill(match):
        name = match.group(1)
        value = values[name]
        return escape(value) if name in TEXT_PLACEHOLDERS else str(int(value))

    return PLACEHOLDER.sub(fill, template)


# One HTTP request asks many guards' queries at once: each is wrapped in label_replace() to carry
# its index in this label, and the wrapped queries are joined with `or` (distinct label sets, so
# `or` keeps every series of every query). Each guard's answer is then the series carrying its
# index, judged exactly as its own query's answer would be (prometheus.parse).
BATCH_LABEL = "changemgmt_guard"
_OPEN, _CLOSE = "([{", ")]}"


def batchable(query: str) -> bool:
    """True when the filled-in `query` is one self-contained expression that can sit as the
    first argument of label_replace(): brackets balanced outside strings, no comma outside them,
    no comment. Anything else is asked on its own (as it always was)."""
    stack, quote, escaped = [], "", False
    for char in query:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in _OPEN:
            stack.append(_CLOSE[_OPEN.index(char)])
        elif char in _CLOSE:
            if not stack or stack.pop() != char:
                return False
        elif char == "#" or (char == "," and not stack):
            return False
    return not stack and not quote and bool(query.strip())


def union(queries: list[str]) -> str:
    """One query whose answer holds every query's answer, each series labelled with the
    index of the query it answers (BATCH_LABEL)."""
    return "\nor\n".join(
        f'label_replace(\n{query}\n, "{BATCH_LABEL}", "{index}", "", "")'
        for index, query in enumerate(queries)
    )
