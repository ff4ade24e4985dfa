"""Pages assembled from the apps that know their part.

The dashboard (web) and the ticket page (tickets) show panels from windows, killswitches, rollouts
and reporting without importing them, which is why this registry sits below every app: each app
may define `changemgmt/<app>/panels.py` with `dashboard_panel(request) -> dict | None` and/or
`ticket_panel(request, ticket) -> dict | None`; the dict is the context of
`templates/<app>/_dashboard_panel.html` / `_ticket_panel.html`.
"""

import importlib

PANEL_APPS = ["windows", "killswitches", "rollouts", "tickets", "reporting"]


def collect(kind: str, request, **kwargs) -> list[dict]:
    """[{"template": ..., "context": ...}] for every app that offers a `kind` panel."""
    panels = []
    for app in PANEL_APPS:
        try:
            module = importlib.import_module(f"changemgmt.{app}.panels")
        except ModuleNotFoundError:
            continue
        build = getattr(module, kind, None)
        if build is None:
            continue
        context = build(request, **kwargs)
        if context is not None:
            panels.append({"template": f"{app}/_{kind}.html", "context": context})
    return panels
