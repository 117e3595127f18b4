"""Forms parse and show input; the quality services decide. Errors land on the named field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db.models import QuerySet

from vein2vein.core.models import Site, User
from vein2vein.core.permissions import GMP_ROLES

from .choices import (
    AFFECTED_KINDS,
    MAX_WHYS,
    ActionKind,
    CapaStatus,
    ChangeStatus,
    CheckResult,
    Classification,
    DeviationCategory,
    DeviationStatus,
    IshikawaCategory,
    RootCauseCategory,
    RootCauseMethod,
)
from .models import Capa, Deviation

TEXTAREA = forms.Textarea(attrs={"rows": 3})
DATE = forms.DateInput(attrs={"type": "date"})


def _any(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


def password_field() -> forms.CharField:
    return forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password to sign",
        strip=False,
    )


class PeopleChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.printed_name} ({obj.username})"


def people(site: Site | None = None, roles: Iterable[str] | None = None) -> QuerySet[User]:
    """Active people holding a GMP role (one of `roles`, at `site`, when given): who may own
    quality work."""
    held: dict[str, Any] = {
        "role_assignments__revoked_at__isnull": True,
        "role_assignments__role__in": list(roles) if roles else [str(r) for r in GMP_ROLES],
    }
    if site is not None:
        held["role_assignments__site"] = site
    return User.objects.filter(is_active=True, **held).distinct().order_by("full_name", "username")


# --- filters --------------------------------------------------------------------------------
class DeviationFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=_any([("active", "Active (not closed)"), *DeviationStatus.choices]),
    )
    classification = forms.ChoiceField(
        required=False,
        choices=_any([*Classification.choices, ("unclassified", "Not classified yet")]),
    )
    category = forms.ChoiceField(required=False, choices=_any(DeviationCategory.choices))
    overdue = forms.ChoiceField(
        required=False, choices=[("", "Any"), ("yes", "Overdue"), ("no", "Not overdue")]
    )
    owner = PeopleChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="Anyone",
        label="Raised by / investigator",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people()  # type: ignore[attr-defined]


class CapaFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=_any(CapaStatus.choices))
    overdue = forms.ChoiceField(
        required=False, choices=[("", "Any"), ("yes", "Overdue"), ("no", "Not overdue")]
    )
    owner = PeopleChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Anyone", label="Owner"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people()  # type: ignore[attr-defined]


class ChangeFilterForm(CapaFilterForm):
    status = forms.ChoiceField(
        required=False, choices=_any([("active", "Active"), *ChangeStatus.choices])
    )


def overdue_value(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


# --- deviations -----------------------------------------------------------------------------
class DeviationForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    title = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=DeviationCategory.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000)
    detected_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Local time at your site; leave blank for now",
    )
    immediate_actions = forms.CharField(widget=TEXTAREA, required=False, max_length=10_000)
    source_type = forms.CharField(
        required=False, max_length=100, label="Source record type", help_text="e.g. core.site"
    )
    source_id = forms.CharField(required=False, max_length=64, label="Source record id")

    def __init__(self, *args: Any, sites: QuerySet[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class ClassifyForm(forms.Form):
    classification = forms.ChoiceField(choices=Classification.choices)
    justification = forms.CharField(widget=TEXTAREA, max_length=10_000)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Required when changing an existing classification",
    )


class InvestigatorForm(forms.Form):
    investigator = PeopleChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["investigator"].queryset = people(  # type: ignore[attr-defined]
            site, roles=["supervisor", "qa_reviewer", "qa_approver"]
        )
        self.fields["investigator"].empty_label = "Me"  # type: ignore[attr-defined]


class InvestigationForm(forms.Form):
    immediate_actions = forms.CharField(widget=TEXTAREA, required=False, max_length=10_000)
    impact_product = forms.CharField(
        widget=TEXTAREA, required=False, max_length=10_000, label="Impact on product"
    )
    impact_patient = forms.CharField(
        widget=TEXTAREA, required=False, max_length=10_000, label="Impact on patient"
    )
    root_cause_method = forms.ChoiceField(
        choices=_any(RootCauseMethod.choices, "—"), required=False
    )
    root_cause_category = forms.ChoiceField(
        choices=_any(RootCauseCategory.choices, "—"), required=False
    )
    root_cause = forms.CharField(widget=TEXTAREA, required=False, max_length=10_000)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Required when you change something already recorded",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, MAX_WHYS + 1):
            self.fields[f"why_{n}"] = forms.CharField(
                required=False, max_length=2000, label=f"Why {n}?"
            )
            self.fields[f"answer_{n}"] = forms.CharField(
                required=False, max_length=2000, label=f"Because {n}"
            )
        for key, label in IshikawaCategory.choices:
            self.fields[f"ishikawa_{key}"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}),
                required=False,
                label=f"Ishikawa: {label}",
                help_text="One cause per line",
            )
        # Method, its analysis, then the conclusion; the reason last, next to the button.
        self.order_fields(
            [
                "immediate_actions",
                "impact_product",
                "impact_patient",
                "root_cause_method",
                *[f"{p}_{n}" for n in range(1, MAX_WHYS + 1) for p in ("why", "answer")],
                *[f"ishikawa_{key}" for key in IshikawaCategory.values],
                "root_cause_category",
                "root_cause",
                "reason",
            ]
        )

    @staticmethod
    def initial_for(dev: Any) -> dict[str, Any]:
        initial = {f: getattr(dev, f) for f in dev.INVESTIGATION_FIELDS}
        for n, pair in enumerate(dev.five_whys or [], start=1):
            initial[f"why_{n}"], initial[f"answer_{n}"] = pair["why"], pair["answer"]
        for key, causes in (dev.ishikawa or {}).items():
            initial[f"ishikawa_{key}"] = "\n".join(causes)
        return initial

    def service_fields(self, initial: dict[str, Any]) -> dict[str, Any]:
        """Only what changed, shaped for update_investigation."""
        data = self.cleaned_data
        values: dict[str, Any] = {
            f: data[f]
            for f in (
                "immediate_actions",
                "impact_product",
                "impact_patient",
                "root_cause_method",
                "root_cause_category",
                "root_cause",
            )
        }
        values["five_whys"] = [
            {"why": data[f"why_{n}"], "answer": data[f"answer_{n}"]}
            for n in range(1, MAX_WHYS + 1)
            if data[f"why_{n}"] or data[f"answer_{n}"]
        ]
        values["ishikawa"] = {
            key: data[f"ishikawa_{key}"].splitlines()
            for key in IshikawaCategory.values
            if data[f"ishikawa_{key}"].strip()
        }
        changed = {}
        for key, value in values.items():
            old = initial.get(key)
            if key == "ishikawa":
                old_text = {k: [x for x in v] for k, v in (old or {}).items()}
                new_text = {k: [x.strip() for x in v if x.strip()] for k, v in value.items()}
                if old_text != new_text:
                    changed[key] = value
            elif (old or "") != (value or ""):
                changed[key] = value
        return changed


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class ConfirmForm(forms.Form):
    """A step with nothing to enter: the button is the decision."""


class CommentForm(forms.Form):
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=10_000
    )


class CloseDeviationForm(forms.Form):
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=10_000,
        label="Closure comment",
    )
    password = password_field()

    def __init__(self, *args: Any, open_actions: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_actions = open_actions
        for action in open_actions:
            self.fields[f"justify_{action.pk}"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}),
                required=False,
                max_length=2000,
                label=f"Why may {action.capa.number} action #{action.pk} stay open?",
                help_text=f"{action.get_kind_display()}: {action.description} "
                f"({action.get_status_display()}, owner {action.owner.printed_name})",
            )
        # The password last, next to the sign button.
        self.order_fields([f for f in self.fields if f != "password"] + ["password"])

    def justifications(self) -> dict[str, str]:
        return {
            str(a.pk): self.cleaned_data.get(f"justify_{a.pk}", "")
            for a in self.open_actions
            if self.cleaned_data.get(f"justify_{a.pk}")
        }


class ExtendForm(forms.Form):
    new_due_date = forms.DateField(widget=DATE)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    password = password_field()


class LinkForm(forms.Form):
    record_type = forms.CharField(max_length=100, help_text="e.g. core.site, quality.capa")
    record_id = forms.CharField(max_length=64)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )


# --- CAPA -----------------------------------------------------------------------------------
class CapaForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=TEXTAREA, max_length=10_000, help_text="The problem these actions address"
    )
    owner = PeopleChoiceField(queryset=User.objects.none(), required=False, empty_label="Me")

    def __init__(self, *args: Any, sites: QuerySet[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]
        self.fields["owner"].queryset = people()  # type: ignore[attr-defined]


class LinkDeviationForm(forms.Form):
    deviation: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=Deviation.objects.none(), label="Deviation"
    )

    def __init__(self, *args: Any, deviations: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["deviation"].queryset = deviations  # type: ignore[attr-defined]


class LinkCapaForm(forms.Form):
    capa: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=Capa.objects.none(), label="Open CAPA"
    )

    def __init__(self, *args: Any, capas: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["capa"].queryset = capas  # type: ignore[attr-defined]


class ActionForm(forms.Form):
    kind = forms.ChoiceField(choices=ActionKind.choices)
    description = forms.CharField(widget=TEXTAREA, max_length=10_000)
    owner = PeopleChoiceField(queryset=User.objects.none())
    due_date = forms.DateField(widget=DATE)

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people(site)  # type: ignore[attr-defined]


class EvidenceForm(forms.Form):
    evidence = forms.CharField(widget=TEXTAREA, max_length=10_000, help_text="What shows it done")
    evidence_ref = forms.CharField(
        required=False, max_length=200, label="Reference", help_text="e.g. SOP-0042 v4"
    )


class CheckPlanForm(forms.Form):
    criteria = forms.CharField(
        widget=TEXTAREA, max_length=10_000, help_text="What will show the actions worked"
    )
    due_date = forms.DateField(widget=DATE)


class CheckResultForm(forms.Form):
    result = forms.ChoiceField(choices=CheckResult.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=10_000,
        help_text="Required when the check fails",
    )
    password = password_field()


# --- change control -------------------------------------------------------------------------
YES_NO = [("", "Not assessed yet"), ("yes", "Yes"), ("no", "No")]


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class ChangeForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    title = forms.CharField(max_length=200)
    what = forms.CharField(widget=TEXTAREA, max_length=10_000, label="What changes")
    why = forms.CharField(widget=TEXTAREA, max_length=10_000, label="Why")

    def __init__(self, *args: Any, sites: QuerySet[Site] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if sites is None:
            del self.fields["site"]
        else:
            self.fields["site"].queryset = sites  # type: ignore[attr-defined]
        for kind in AFFECTED_KINDS:
            self.fields[f"affected_{kind}"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}),
                required=False,
                label=f"Affected {kind}",
                help_text="One per line",
            )
        for name in ("validation", "regulatory", "training"):
            self.fields[f"{name}_impact"] = forms.ChoiceField(
                choices=YES_NO, required=False, label=f"Impact on {name}"
            )
            self.fields[f"{name}_notes"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}),
                required=False,
                max_length=10_000,
                label=f"{name.title()} notes",
            )

    @staticmethod
    def initial_for(change: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {"title": change.title, "what": change.what, "why": change.why}
        for kind in AFFECTED_KINDS:
            initial[f"affected_{kind}"] = "\n".join(change.affected.get(kind, []))
        for name in ("validation", "regulatory", "training"):
            value = getattr(change, f"{name}_impact")
            initial[f"{name}_impact"] = "" if value is None else ("yes" if value else "no")
            initial[f"{name}_notes"] = getattr(change, f"{name}_notes")
        return initial

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {k: data[k] for k in ("title", "what", "why")}
        values["affected"] = {
            kind: data[f"affected_{kind}"].splitlines()
            for kind in AFFECTED_KINDS
            if data[f"affected_{kind}"].strip()
        }
        for name in ("validation", "regulatory", "training"):
            values[f"{name}_impact"] = _yes_no(data[f"{name}_impact"])
            values[f"{name}_notes"] = data[f"{name}_notes"]
        return values


class ApproveForm(forms.Form):
    role = forms.ChoiceField(choices=[], label="Approve as")
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )
    password = password_field()

    def __init__(self, *args: Any, roles: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles  # type: ignore[attr-defined]


class TaskForm(forms.Form):
    description = forms.CharField(widget=TEXTAREA, max_length=10_000)
    owner = PeopleChoiceField(queryset=User.objects.none())
    due_date = forms.DateField(widget=DATE)

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people(site)  # type: ignore[attr-defined]
