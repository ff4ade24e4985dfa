from django import forms


class FlipForm(forms.Form):
    # The direction the user was shown: a second identical post (another engineer's form, a
    # resubmitted page) must not turn the AI back on.
    engage = forms.TypedChoiceField(
        choices=[("1", "engage"), ("0", "release")],
        coerce=lambda value: value == "1",
        widget=forms.HiddenInput,
        error_messages={"required": "The form did not say whether to engage or release."},
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
        help_text="Why (an incident, a ticket, a customer request). Recorded in the audit log.",
    )
    expires = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        help_text="Tenant switches only: lifted automatically after this date.",
    )


class ExerciseStartForm(forms.Form):
    switch_path = forms.CharField(max_length=200, widget=forms.HiddenInput)
    canary_slice = forms.CharField(
        max_length=120,
        initial="1%",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "size": 14}),
        help_text="tenant:<id> or a percentage up to 10%",
    )


class VerifyForm(forms.Form):
    result = forms.ChoiceField(
        choices=[("pass", "Fallback works (pass)"), ("fail", "Fallback broken (fail)")],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    evidence = forms.CharField(
        max_length=5000,
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-sm",
                "placeholder": "What you saw, or a link",
            }
        ),
    )


class RescheduleForm(forms.Form):
    scheduled_for = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"})
    )
