"""Forms parse and show input; the services decide. A DomainError lands on the named field.

A step's form carries ONE input suited to its kind (a scan field for material, equipment and
COI checks; a number, a choice, a text, a file, a password for a sign-off; nothing but the
"Done" button for instructions, timers, samples, labels and calculations) and a comment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.db.models import QuerySet

from .choices import StepKind

SCAN_KINDS = frozenset({StepKind.MATERIAL, StepKind.EQUIPMENT, StepKind.COI_CHECK})
DONE_KINDS = frozenset(
    {StepKind.INSTRUCTION, StepKind.TIMER, StepKind.SAMPLE, StepKind.LABEL, StepKind.CALCULATION}
)
CORRECTABLE_KINDS = frozenset(
    {StepKind.NUMERIC, StepKind.CHOICE, StepKind.TEXT, StepKind.CALCULATION}
)
SCAN_LABELS = {
    StepKind.MATERIAL: "Scan the lot label",
    StepKind.EQUIPMENT: "Scan the equipment label",
    StepKind.COI_CHECK: "Scan the bag's COI identifier",
}


def _reason(label: str = "Reason", help_text: str = "") -> forms.CharField:
    return forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label=label, help_text=help_text
    )


def _comment(label: str = "Comment") -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=2000,
        label=label,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _password(help_text: str = "Re-enter your password to sign") -> forms.CharField:
    return forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=help_text,
    )


def _value_field(step: dict[str, Any], *, autofocus: bool) -> forms.Field | None:
    """The input of a value step (numeric, choice, text); None for the others."""
    kind = step["kind"]
    focus = {"autofocus": True} if autofocus else {}
    if kind == StepKind.NUMERIC:
        unit = step.get("unit", "")
        return forms.CharField(
            label=f"Value ({unit})" if unit else "Value",
            max_length=40,
            widget=forms.NumberInput(
                attrs={"step": "any", "inputmode": "decimal", "class": "big-input", **focus}
            ),
        )
    if kind == StepKind.CHOICE:
        return forms.ChoiceField(
            label="Choose",
            choices=[(o, o) for o in step.get("options", [])],
            widget=forms.RadioSelect(attrs=focus),
        )
    if kind == StepKind.TEXT:
        return forms.CharField(
            label="Text",
            max_length=int(step.get("max_length", 2000)),
            widget=forms.Textarea(attrs={"rows": 3, **focus}),
        )
    return None


if TYPE_CHECKING:
    from vein2vein.chain.models import TherapyOrder
    from vein2vein.documents.models import Document


class StepForm(forms.Form):
    """One step's entry. Field names are what record_step takes (value, scan, file, password,
    comment); ids carry the step key so several next steps can share a page."""

    comment = _comment()

    def __init__(self, *args: Any, step: dict[str, Any], autofocus: bool = False, **kwargs: Any):
        kwargs.setdefault("auto_id", f"id_{step['key']}_%s")
        super().__init__(*args, **kwargs)
        self.step = step
        kind = step["kind"]
        focus = {"autofocus": True} if autofocus else {}
        if kind in SCAN_KINDS:
            self.fields["scan"] = forms.CharField(
                label=SCAN_LABELS[StepKind(kind)],
                max_length=300,
                help_text="A scanner types the barcode and Enter; you can also type it.",
                widget=forms.TextInput(
                    attrs={
                        "autocomplete": "off",
                        "spellcheck": "false",
                        "class": "scan-field big-input",
                        "data-testid": "scan-field",
                        **focus,
                    }
                ),
            )
        elif kind == StepKind.ATTACHMENT:
            self.fields["file"] = forms.FileField(label="Attach the document")
        elif kind == StepKind.SIGNOFF:
            self.fields["password"] = _password("Re-enter your password to sign off")
            self.fields["password"].widget.attrs.update(focus)
        else:
            field = _value_field(step, autofocus=autofocus)
            if field is not None:
                self.fields["value"] = field
        self.order_fields([n for n in ("scan", "value", "file", "password", "comment")])

    @property
    def input_name(self) -> str:
        """The name of the step's one input ('' for a "Done" step)."""
        for name in ("scan", "value", "file", "password"):
            if name in self.fields:
                return name
        return ""

    def focus(self, name: str) -> None:
        field = self.fields.get(name)
        if field is not None:
            field.widget.attrs["autofocus"] = True

    def clear_scan(self) -> None:
        """After a refused scan the field is emptied for a fresh scan."""
        if "scan" in self.fields and self.is_bound:
            data = dict(self.data.items())
            data[self.add_prefix("scan")] = ""
            self.data = data


class VerifyForm(forms.Form):
    password = _password("Re-enter your password: you sign as the verifier")
    comment = _comment("Comment (optional)")


class CorrectForm(forms.Form):
    reason = _reason(help_text="Why the recorded value is wrong; the original stays visible")
    comment = _comment("Comment (required outside the action limits)")

    def __init__(self, *args: Any, step: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = _value_field(step, autofocus=True)
        if field is not None:
            field.label = "Corrected value" + (
                f" ({step['unit']})" if step["kind"] == StepKind.NUMERIC else ""
            )
            self.fields["value"] = field
            self.order_fields(["value", "reason", "comment"])


class ReasonForm(forms.Form):
    reason = _reason()


class AbortForm(forms.Form):
    reason = _reason(help_text="Why the batch cannot be finished; the order is rejected")
    password = _password("Re-enter your password: you sign the abort as QA approver")


class ReviewForm(forms.Form):
    password = _password("Re-enter your password: you sign the review")
    comment = forms.CharField(
        required=False,
        max_length=4000,
        label="Review comment",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class StartBatchForm(forms.Form):
    order = forms.ModelChoiceField(
        queryset=None,  # the caller hands in the orders
        label="Received order",
        help_text="Received, accepted material without a batch",
    )

    def __init__(
        self, *args: Any, orders: QuerySet[TherapyOrder], labels: dict[int, str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["order"]
        field.queryset = orders  # type: ignore[attr-defined]
        field.label_from_instance = lambda o: labels.get(o.pk, o.coi_eye_readable)  # type: ignore[attr-defined]


class MbrForm(forms.Form):
    """Authoring: paste or upload the YAML; check it, or import it as a new draft version."""

    yaml_text = forms.CharField(
        required=False,
        label="YAML",
        max_length=2_000_000,
        widget=forms.Textarea(
            attrs={"rows": 18, "spellcheck": "false", "class": "code", "autocomplete": "off"}
        ),
    )
    file = forms.FileField(required=False, label="Or upload a YAML file")
    document = forms.ModelChoiceField(
        queryset=None,  # the caller hands in the documents
        required=False,
        label="New version of an existing MBR document",
        empty_label="No: a new MBR document",
    )
    title = forms.CharField(
        required=False, max_length=200, help_text="New document only; blank: the MBR's title"
    )
    change_summary = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to import: what this version changes",
    )

    def __init__(self, *args: Any, documents: QuerySet[Document], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document"].queryset = documents  # type: ignore[attr-defined]
        self.fields["document"].label_from_instance = (  # type: ignore[attr-defined]
            lambda d: f"{d.number} {d.title}"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("yaml_text") or "").strip() and not data.get("file"):
            raise forms.ValidationError("paste the YAML or choose a file")
        return data

    @property
    def source(self) -> Any:
        """The uploaded file if one was chosen, else the pasted text."""
        return self.cleaned_data.get("file") or self.cleaned_data.get("yaml_text", "")
