"""Forms parse and show input; the services decide. A DomainError lands on the named field."""

from __future__ import annotations

from typing import Any

from django import forms

from vein2vein.core.models import Site

from .choices import INSPECTION_ITEMS, MaterialKind, StorageCondition, SupplierStatus
from .models import Lot, Material, Supplier

PASSWORD_HELP = "Re-enter your password to sign"  # noqa: S105 - a help text


def _password() -> forms.CharField:
    return forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=PASSWORD_HELP,
    )


def _date() -> forms.DateField:
    return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class ReceiveForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    material = forms.ModelChoiceField(queryset=Material.objects.all())
    supplier = forms.ModelChoiceField(queryset=Supplier.objects.all())
    supplier_lot = forms.CharField(max_length=80, label="Supplier lot number")
    quantity = forms.DecimalField(max_digits=16, decimal_places=3, min_value=0)
    unit = forms.CharField(max_length=20, required=False, help_text="Blank: the material's unit")
    expiry_date = _date()
    location = forms.CharField(max_length=200, help_text="e.g. Fridge F-02, shelf 3")
    coa_file = forms.FileField(
        required=False,
        label="Supplier CoA (PDF)",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf"}),
    )
    titer = forms.CharField(
        required=False, max_length=60, label="Titer (TU/mL)", help_text="Viral vectors only"
    )
    packaging_intact = forms.BooleanField(required=False, label=INSPECTION_ITEMS[0][1])
    labels_match = forms.BooleanField(required=False, label=INSPECTION_ITEMS[1][1])
    temperature_ok = forms.BooleanField(required=False, label=INSPECTION_ITEMS[2][1])
    coa_matches = forms.BooleanField(required=False, label=INSPECTION_ITEMS[3][1])
    remarks = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Inspection remarks"
    )

    def __init__(self, *args: Any, sites: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class SignForm(forms.Form):
    password = _password()
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Comment (optional)"
    )


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Reason")
    password = _password()


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class ConsumeForm(forms.Form):
    quantity = forms.DecimalField(max_digits=16, decimal_places=3)
    reference = forms.CharField(
        max_length=200, help_text="What it was used for, e.g. B-0007 step 4"
    )


class AdjustForm(forms.Form):
    quantity = forms.DecimalField(
        max_digits=16, decimal_places=3, help_text="Signed: negative takes away, positive adds"
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class SupplierForm(forms.Form):
    name = forms.CharField(max_length=200)
    status = forms.ChoiceField(choices=SupplierStatus.choices)
    qualification_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reevaluation_due = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    contact = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SupplierStatusForm(forms.Form):
    status = forms.ChoiceField(choices=SupplierStatus.choices)
    qualification_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reevaluation_due = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class MaterialForm(forms.Form):
    part_number = forms.CharField(max_length=40)
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=MaterialKind.choices)
    unit = forms.CharField(max_length=20, help_text="Unit of measure, e.g. mL, vial, each")
    storage_condition = forms.ChoiceField(choices=StorageCondition.choices)
    qc_release_required = forms.BooleanField(
        required=False, initial=True, label="QC release needed"
    )
    reorder_level = forms.DecimalField(max_digits=16, decimal_places=3, min_value=0, initial=0)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class MaterialEditForm(forms.Form):
    name = forms.CharField(max_length=200)
    unit = forms.CharField(max_length=20)
    storage_condition = forms.ChoiceField(choices=StorageCondition.choices)
    qc_release_required = forms.BooleanField(required=False, label="QC release needed")
    reorder_level = forms.DecimalField(max_digits=16, decimal_places=3, min_value=0)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Why the change is made"
    )


class AddSupplierForm(forms.Form):
    supplier = forms.ModelChoiceField(
        queryset=Supplier.objects.exclude(status=SupplierStatus.DISQUALIFIED)
    )


class FefoForm(forms.Form):
    material = forms.ModelChoiceField(queryset=Material.objects.all())


class DaysForm(forms.Form):
    days = forms.IntegerField(min_value=0, max_value=3650, initial=30, required=False)


KIT_ROWS = 6


class KitForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    name = forms.CharField(max_length=200, help_text="e.g. Activation kit for one patient run")
    location = forms.CharField(max_length=200)
    remarks = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, sites: Any = None, lots: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]
        for n in range(1, KIT_ROWS + 1):
            self.fields[f"lot_{n}"] = forms.ModelChoiceField(
                queryset=lots if lots is not None else Lot.objects.none(),
                required=n == 1,
                label=f"Component {n}: lot",
            )
            self.fields[f"quantity_{n}"] = forms.DecimalField(
                max_digits=16, decimal_places=3, required=n == 1, label=f"Component {n}: quantity"
            )
        # Every row offers the same lots: read them once for all the rows' dropdowns.
        rows: list[forms.ModelChoiceField[Lot]] = [
            self.fields[f"lot_{n}"]  # type: ignore[misc]
            for n in range(1, KIT_ROWS + 1)
        ]
        choices = list(rows[0].choices)
        for field in rows:
            field.choices = choices

    def components(self) -> list[dict[str, Any]]:
        out = []
        for n in range(1, KIT_ROWS + 1):
            lot, qty = self.cleaned_data.get(f"lot_{n}"), self.cleaned_data.get(f"quantity_{n}")
            if lot is not None or qty is not None:
                out.append({"lot_id": lot.pk if lot else None, "quantity": qty})
        return out


class ImportForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv"})
    )

    def __init__(self, *args: Any, sites: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]
