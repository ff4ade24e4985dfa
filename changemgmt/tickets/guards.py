"""Named guards for ticket transitions.

A guard is a pure function `check(ticket) -> str | None`: None when the rule holds, otherwise the
sentence shown to the user (and named in the API's 409). `@guard` turns it into a django-fsm
condition that keeps the check reachable as `.refusal`, so the same rule both gates the transition
and explains the refusal.

Apps above tickets (windows, killswitches, rollouts) add guards to a transition with
`@register("start")` instead of editing the ticket model: tickets never imports them.
"""

import functools
from collections import defaultdict
from collections.abc import Callable

Check = Callable[[object], str | None]

_registry: dict[str, list[Callable]] = defaultdict(list)


def guard(check: Check):
    @functools.wraps(check)
    def condition(ticket) -> bool:
        return check(ticket) is None

    condition.refusal = check
    condition.guard_name = check.__name__
    return condition


def register(transition_name: str):
    """Add a guard (a plain check function) to `transition_name`, from another app."""

    def wrap(check: Check):
        condition = guard(check)
        if all(c.guard_name != condition.guard_name for c in _registry[transition_name]):
            _registry[transition_name].append(condition)
        return condition

    return wrap


def registered(transition_name: str) -> list[Callable]:
    return list(_registry[transition_name])


class ExtensionGuards:
    """One django-fsm condition that stands for every guard registered on a transition."""

    def __init__(self, transition_name: str):
        self.transition_name = transition_name
        self.__name__ = f"registered_{transition_name}_guards"

    def __call__(self, ticket) -> bool:
        return all(condition(ticket) for condition in _registry[self.transition_name])

    def expand(self) -> list[Callable]:
        return registered(self.transition_name)


def refusals(conditions, ticket) -> list[tuple[str, str]]:
    """(guard name, reason) for every condition in `conditions` that refuses `ticket`."""
    found = []
    for condition in conditions:
        members = condition.expand() if isinstance(condition, ExtensionGuards) else [condition]
        for member in members:
            check = getattr(member, "refusal", None)
            if check is not None:
                reason = check(ticket)
                if reason:
                    found.append((member.guard_name, reason))
            elif not member(ticket):
                name = getattr(member, "__name__", "condition")
                found.append((name, (member.__doc__ or name).strip()))
    return found
