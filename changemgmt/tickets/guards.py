"""Named guards for ticket transitions.

A guard is a pure function `check(ticket) -> str | None`: None when the rule holds, otherwise the
sentence shown to the user (and named in the API's 409). `@guard` turns it into a django-fsm
condition that keeps the check reachable as `.refusal`, so the same rule both gates the transition
and explains the refusal.

Apps above tickets (windows, killswitches, rollouts) add guards to a transition with
`@register("start")` instead of editing the ticket model: tickets never imports them.
"""

import contextlib
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable

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
    """Add a guard (a plain check function) to `transition_name`, from another app:
    `@register("start")` above the check, the one way guards join a transition from outside. The
    check stays a plain function (its sentence or None); the transition gets its condition."""

    def wrap(check: Check) -> Check:
        condition = guard(check)
        if all(c.guard_name != condition.guard_name for c in _registry[transition_name]):
            _registry[transition_name].append(condition)
        return check

    return wrap


# Registered guards a test (or a drill's setup) took out of play: {transition: guard names}.
_hidden: dict[str, frozenset[str]] = {}


def registered(transition_name: str) -> list[Callable]:
    hidden = _hidden.get(transition_name, frozenset())
    return [c for c in _registry[transition_name] if c.guard_name not in hidden]


def registrations() -> dict[str, list[Callable]]:
    """Every registered guard by transition, whatever a test selected (the guard map reads it)."""
    return {name: list(conditions) for name, conditions in _registry.items() if conditions}


def select(names: Iterable[str], *, on: Iterable[str] | None = None) -> Callable[[], None]:
    """Keep only the registered guards named in `names` on the transitions `on` (every transition
    when None), so a test exercises one app's rules; a guard registered after this call takes part.
    Returns the function that puts back the previous selection and forgets the guards registered
    since. `selected()` is the same as a context manager."""
    global _hidden
    previous_hidden = _hidden
    previous_registry = {name: list(conditions) for name, conditions in _registry.items()}
    kept = frozenset(names)
    transitions = list(_registry) if on is None else list(on)
    _hidden = {
        **previous_hidden,
        **{
            name: previous_hidden.get(name, frozenset())
            | {c.guard_name for c in _registry[name] if c.guard_name not in kept}
            for name in transitions
        },
    }

    def restore():
        global _hidden
        _hidden = previous_hidden
        _registry.clear()
        _registry.update(previous_registry)

    return restore


@contextlib.contextmanager
def selected(names: Iterable[str], *, on: Iterable[str] | None = None):
    restore = select(names, on=on)
    try:
        yield
    finally:
        restore()


class ExtensionGuards:
    """One django-fsm condition that stands for every guard registered on a transition."""

    def __init__(self, transition_name: str):
        self.transition_name = transition_name
        self.__name__ = f"registered_{transition_name}_guards"

    def __call__(self, ticket) -> bool:
        return all(condition(ticket) for condition in registered(self.transition_name))

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
