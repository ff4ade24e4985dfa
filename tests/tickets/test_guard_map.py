"""Every transition's guards, as a map for newcomers: `pytest tests/tickets/test_guard_map.py -s`
prints which named rule guards which transition (the ticket's own rules and those the apps above
tickets register), with the first line of each rule's docstring. It fails when a guard is added
without a docstring, or registered on a transition that never asks for registered guards."""

from changemgmt.tickets import guards
from changemgmt.tickets.models import TRANSITIONS, ChangeTicket


def _conditions(name):
    meta = getattr(ChangeTicket, name)._django_fsm
    seen = []
    for transition in meta.transitions.values():
        for condition in transition.conditions:
            if condition not in seen:
                seen.append(condition)
    return seen


def guard_map() -> dict[str, list[tuple[str, str, str]]]:
    """transition -> [(guard name, where it comes from, first docstring line)]."""
    found = {}
    for name in TRANSITIONS:
        rows = []
        for condition in _conditions(name):
            if isinstance(condition, guards.ExtensionGuards):
                members = guards.registrations().get(condition.transition_name, [])
            else:
                members = [condition]
            for member in members:
                check = getattr(member, "refusal", member)
                doc = (check.__doc__ or "").strip().splitlines()
                rows.append((member.guard_name, check.__module__, doc[0] if doc else ""))
        found[name] = rows
    return found


def test_it_prints_each_transitions_guards_and_every_guard_says_what_it_checks():
    lines, undocumented = [], []
    for name, rows in guard_map().items():
        lines.append(f"{name}:" + ("" if rows else " (no guards: state and role only)"))
        for guard_name, module, doc in rows:
            lines.append(f"  - {guard_name} ({module}): {doc}")
            if not doc:
                undocumented.append(f"{name}: {guard_name}")
    print("\n".join(lines))
    assert not undocumented, "guards without a docstring: " + ", ".join(undocumented)
    assert guard_map()["start"] and guard_map()["promote"]


def test_it_registers_guards_only_on_transitions_that_ask_for_them():
    asking = {
        name
        for name in TRANSITIONS
        if any(isinstance(c, guards.ExtensionGuards) for c in _conditions(name))
    }
    registered_on = set(guards.registrations())
    assert registered_on <= asking
