"""Forms for filing and editing a ticket, taking a transition and casting a CAB vote.

The ticket form is a ModelForm over the ticket's content (never `state`); saving goes through
services.ticket_create / ticket_update, which re-validate inside the transaction.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from changemgmt import roles
from changemgmt.catalog.models import AIFeature, AIModel, RiskTier, Tenant

from . import filing
from .models import CHECKLIST_ITEMS, MAX_EVAL_ROWS, ChangeTicket, Decision

BASE_REGIONS = ("AU", "CA", "EU", "US")

# What a person fills in, in the order they think about it (the article's ticket fields).
SECTIONS = (
    ("What", ("title", "summary", "feature", "classification", "risk_tier")),
    ("Rollback & kill switch", ("rollback_plan", "kill_switch")),
    ("Blast radius", ("users_affected", "regions", "max_traffic_percent")),
    (
        "Linked artifacts",
        ("pr_url", "prompt_version", "candidate_model", "model_card_url", "risk_review_ticket"),
    ),
    ("Release window", ("release_manager", "bridge_url", "bridge", "paging_list")),
    ("Emergency", ("emergency", "emergency_justification")),
)
FORM_FIELDS = tuple(name for _, names in SECTIONS for name in names) + (
    "eval_regression_justification",
)


def split_list(value: str) -> list[str]:
    """'a, b;c\\nd' -> ['a', 'b', 'c', 'd'] (people paste lists in every shape)."""
    for sep in (";", "\n"):
        value = value.replace(sep, ",")
    items = []
    for item in value.split(","):
        item = item.strip()
        if item and item not in items:
            items.append(item)
    return items


NO_SWITCH_YET = "No switch yet (create it in the kill-switch console first)"


def kill_switch_choices(current: str = "") -> list:
    """Switches that exist, by layer; catalog entries without a switch listed apart (and not
    selectable, see SwitchSelect): a path with nothing behind it would turn nothing off.

    The killswitches app's one-to-one `kill_switch` on each catalog row is read by name: tickets
    never imports killswitches."""
    layers = [
        ("Feature switches", AIFeature, "slug", "feature"),
        ("Model switches", AIModel, "model_id", "model"),
        ("Tenant switches", Tenant, "tenant_id", "tenant"),
    ]
    choices = [("", "— the switch that turns this change off —")]
    known, missing = set(), []
    for label, model, key, prefix in layers:
        rows = model.objects.order_by(key).values_list(key, "kill_switch")
        paths = [f"{prefix}:{k}" for k, switch in rows if switch is not None]
        missing += [f"{prefix}:{k}" for k, switch in rows if switch is None]
        if paths:
            choices.append((label, [(p, p) for p in paths]))
        known.update(paths)
    if missing:
        choices.append((NO_SWITCH_YET, [(p, f"{p} (no switch yet)") for p in missing]))
        known.update(missing)
    if current and current not in known:
        # Kept so an edit does not silently drop it; the completeness check names the problem.
        choices.append((current, f"{current} (not in the catalog)"))
    return choices


class SwitchSelect(forms.Select):
    """Options in the "no switch yet" group are shown but cannot be picked."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if str(label).endswith("(no switch yet)") and not selected:
            option["attrs"]["disabled"] = True
        return option


def region_choices(current=()) -> list[tuple[str, str]]:
    regions = set(BASE_REGIONS) | set(current or ())
    for served in AIFeature.objects.values_list("regions", flat=True):
        regions.update(r for r in served or () if isinstance(r, str))
    regions.update(Tenant.objects.values_list("region", flat=True))
    return [(r, r) for r in sorted(regions)]


class BootstrapMixin:
    def _style_widgets(self):
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                continue  # rendered box by box in tickets/_field.html
            if isinstance(widget, forms.CheckboxInput | forms.RadioSelect):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()

    def mark_invalid_fields(self):
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()
                widget.attrs["aria-invalid"] = "true"


class TicketForm(BootstrapMixin, forms.ModelForm):
    wide_fields = {"title", "summary", "rollback_plan", "regions", "paging_list"}

    risk_tier = forms.ChoiceField(
        required=False,
        choices=[("", "Same as the feature")] + list(RiskTier.choices),
        help_text="Inherited from the feature; you may raise it, never lower it.",
    )
    kill_switch = forms.ChoiceField(required=False, label="Kill-switch path", widget=SwitchSelect)
    regions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Regions reached"
    )
    bridge = forms.CharField(
        required=False,
        label="People on the bridge",
        help_text="Usernames, comma-separated.",
    )
    paging_list = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Email addresses paged during the ramp, comma-separated.",
    )
    release_manager = forms.ModelChoiceField(
        required=False, queryset=get_user_model().objects.none(), empty_label="— not yet —"
    )

    class Meta:
        model = ChangeTicket
        fields = FORM_FIELDS
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "rollback_plan": forms.Textarea(
                attrs={
                    "rows": 4,
                    "placeholder": "1. Flip the kill switch … 2. Re-pin … 3. Confirm …",
                }
            ),
            "emergency_justification": forms.Textarea(attrs={"rows": 2}),
            "eval_regression_justification": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            "pr_url": "Pull request URL",
            "model_card_url": "Model card URL",
            "risk_review_ticket": "AI Risk Review ticket",
            "max_traffic_percent": "Max % of traffic during the ramp",
            "users_affected": "Users affected",
            "bridge_url": "Bridge URL",
            "emergency": "This is an emergency change",
            "eval_regression_justification": "Eval regression justification",
        }
        help_texts = {
            "rollback_plan": "Specific steps, for every tier: 'feels reversible' is not a plan.",
            "risk_review_ticket": "Required for Medium and High tier.",
            "eval_regression_justification": "Required when a metric regresses beyond the tier's "
            "tolerance; the CAB reads it.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ticket = self.instance
        self.fields["feature"].queryset = AIFeature.objects.order_by("slug")
        self.fields["kill_switch"].choices = kill_switch_choices(ticket.kill_switch)
        self.fields["regions"].choices = region_choices(ticket.regions)
        user_model = get_user_model()
        managers = Q(groups__name=roles.RELEASE_MANAGER, is_active=True)
        if ticket.release_manager_id:
            managers |= Q(pk=ticket.release_manager_id)
        self.fields["release_manager"].queryset = (
            user_model.objects.filter(managers).distinct().order_by("username")
        )
        # The model's lists are typed as comma-separated text (a new ticket's [] included).
        if ticket.pk is None:
            # A new ticket's blast radius starts from the feature's users served (clean()),
            # not from the model's 0, which reads as "nobody is affected".
            users = self.fields["users_affected"]
            users.required = False
            self.initial["users_affected"] = None
            users.help_text = "Blank: the feature's users served."
        self.initial["bridge"] = ", ".join(ticket.bridge or [])
        self.initial["paging_list"] = ", ".join(ticket.paging_list or [])
        self._style_widgets()

    @property
    def feature_tiers(self) -> dict[str, str]:
        """Feature pk -> its tier label, for the form's "inherited from the feature" hint."""
        return {
            str(pk): RiskTier(tier).label
            for pk, tier in self.fields["feature"].queryset.values_list("pk", "risk_tier")
        }

    @property
    def feature_users(self) -> dict[str, int]:
        """Feature pk -> its users served, for the users-affected default on the page."""
        queryset = self.fields["feature"].queryset
        return {str(pk): users for pk, users in queryset.values_list("pk", "users_served")}

    @property
    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in SECTIONS]

    def clean_bridge(self):
        return self._checked(split_list(self.cleaned_data["bridge"]), filing.bridge_problem)

    def clean_paging_list(self):
        return self._checked(split_list(self.cleaned_data["paging_list"]), filing.paging_problem)

    @staticmethod
    def _checked(items, problem_of):
        problem = problem_of(items)  # filing's own check, which runs again on save
        if problem:
            raise ValidationError(problem)
        return items

    def clean(self):
        cleaned = super().clean()
        feature = cleaned.get("feature")
        tier = cleaned.get("risk_tier")
        if feature is not None and cleaned.get("users_affected") is None:
            cleaned["users_affected"] = feature.users_served
        if feature is not None:
            if not tier:
                cleaned["risk_tier"] = feature.risk_tier
            elif RiskTier.rank(tier) < RiskTier.rank(feature.risk_tier):
                self.add_error(
                    "risk_tier",
                    f"The tier may be raised, never lowered below the feature's "
                    f"{feature.risk_tier} ({feature.slug}).",
                )
        elif not tier:
            cleaned["risk_tier"] = RiskTier.MEDIUM  # only so model validation runs; feature errs
        if cleaned.get("emergency") and not (cleaned.get("emergency_justification") or "").strip():
            self.add_error(
                "emergency_justification", "An emergency change needs its justification."
            )
        return cleaned

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in FORM_FIELDS}


def _as_bool(value):
    return value in (True, "True", "true", "1", "on")


class EvalDeltaForm(BootstrapMixin, forms.Form):
    metric = forms.CharField(max_length=80)
    baseline = forms.FloatField()
    candidate = forms.FloatField()
    higher_is_better = forms.TypedChoiceField(
        coerce=_as_bool,
        choices=[("True", "higher is better"), ("False", "lower is better")],
        initial="True",
        label="Direction",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()
        for name in ("baseline", "candidate"):
            self.fields[name].widget.attrs["step"] = "any"

    def clean_metric(self):
        return self.cleaned_data["metric"].strip()

    @property
    def delta(self):
        """candidate − baseline from what the person typed (or the stored row)."""
        try:
            if self.is_bound:
                baseline = float(self.data.get(self.add_prefix("baseline")))
                candidate = float(self.data.get(self.add_prefix("candidate")))
            else:
                baseline = float(self.initial["baseline"])
                candidate = float(self.initial["candidate"])
        except (KeyError, TypeError, ValueError):
            return None
        return round(candidate - baseline, 10)


class BaseEvalDeltaFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            metric = form.cleaned_data.get("metric")
            if not metric:
                continue
            if metric in seen:
                form.add_error("metric", f"{metric} is listed twice; one row per metric.")
            seen.add(metric)

    def rows(self) -> list[dict]:
        return [
            {
                k: form.cleaned_data[k]
                for k in ("metric", "baseline", "candidate", "higher_is_better")
            }
            for form in self.forms
            if form.cleaned_data.get("metric") and not self._should_delete_form(form)
        ]


EvalDeltaFormSet = forms.formset_factory(
    EvalDeltaForm,
    formset=BaseEvalDeltaFormSet,
    extra=2,
    can_delete=True,
    max_num=MAX_EVAL_ROWS,
    validate_max=True,
)


def eval_formset(ticket=None, data=None):
    initial = None
    if ticket is not None and ticket.pk:
        initial = [
            {
                "metric": d.metric,
                "baseline": d.baseline,
                "candidate": d.candidate,
                "higher_is_better": str(d.higher_is_better),
            }
            for d in ticket.eval_deltas.all()
        ]
    return EvalDeltaFormSet(data=data, initial=initial, prefix="evals")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=5000, required=False)


class ScheduleForm(forms.Form):
    """The planned start of a booking, the same on the ticket page and in the window picker: a slot
    the picker offers (`slot`, an ISO instant) or a wall-clock time typed in `zone` (the viewer's
    zone on the ticket page, the policy's in the picker). `typed` names the typed input: the
    picker's says it is local to the policy (`planned_start_local`)."""

    slot = forms.DateTimeField(required=False, input_formats=["iso-8601"])

    def __init__(self, data=None, *, zone, typed="planned_start"):
        super().__init__(data)
        self.zone, self.typed = zone, typed
        self.fields[typed] = forms.DateTimeField(
            required=False,
            input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
            error_messages={"invalid": "Enter a date and time."},
            label="Planned start",
        )

    def full_clean(self):
        with timezone.override(self.zone):  # the typed time is wall-clock time in `zone`
            super().full_clean()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        slot, typed = data.get("slot"), data.get(self.typed)
        if slot is None and typed is None:
            raise ValidationError("Pick a planned start.")
        data["planned_start"] = slot if slot is not None else typed
        return data

    def error_sentences(self) -> list[str]:
        return [message for messages in self.errors.values() for message in messages]


class CloseForm(forms.Form):
    review_notes = forms.CharField(max_length=10000, required=False)
    metrics_held = forms.BooleanField(required=False)


class VoteForm(BootstrapMixin, forms.Form):
    decision = forms.ChoiceField(
        choices=Decision.choices, widget=forms.RadioSelect, initial=Decision.APPROVE
    )
    comment = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to request changes or reject.",
    )

    def __init__(self, *args, seats=(), **kwargs):
        super().__init__(*args, **kwargs)
        for item, label in CHECKLIST_ITEMS.items():
            self.fields[item] = forms.BooleanField(required=False, label=label)
        if len(seats) > 1:
            self.fields["seat"] = forms.ChoiceField(
                choices=[(s, roles.ROLE_LABELS.get(s, s)) for s in seats],
                help_text="You hold several seats; pick the one you vote in.",
            )
        self._style_widgets()

    @property
    def checklist_fields(self):
        return [self[item] for item in CHECKLIST_ITEMS]

    def checklist(self) -> dict:
        return {item: bool(self.cleaned_data.get(item)) for item in CHECKLIST_ITEMS}
