"""CSV import: per-row errors naming row and field, all or nothing, streamed, audited."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from vein2vein.core.audit import verify_chain
from vein2vein.core.errors import PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent
from vein2vein.materials.models import InventoryTransaction, Lot
from vein2vein.materials.services import ImportRejected, import_lots

from .conftest import unchanged
from .factories import MaterialFactory, SupplierFactory

pytestmark = pytest.mark.django_db

HEADER = "part_number,supplier,supplier_lot,quantity,unit,expiry_date,location,status\n"


@pytest.fixture
def master(material):  # type: ignore[no-untyped-def]
    MaterialFactory(part_number="MED-0001", unit="bag")
    SupplierFactory(name="Bio-Techne")
    return material


def _csv(*rows: str, header: str = HEADER) -> SimpleUploadedFile:
    return SimpleUploadedFile("lots.csv", (header + "".join(r + "\n" for r in rows)).encode())


GOOD = (
    "MAT-0001,Miltenyi Biotec,6201234,10,vial,2027-05-31,Fridge F-02,",
    "MED-0001,bio-techne,TX-88,24.5,,2027-01-31,Cold room CR-1,quarantine",
    "MAT-0001,Miltenyi Biotec,6201299,4,vial,2027-06-30,Fridge F-02,on_hold",
)


@pytest.fixture
def importer(make_user):  # type: ignore[no-untyped-def]
    return make_user("logistics", username="importer")


def test_a_good_file_imports_every_lot_with_audit_events(master, site, importer):
    numbers = import_lots(actor=importer, site_id=site.pk, file=_csv(*GOOD))
    assert len(numbers) == 3
    lots = list(Lot.objects.order_by("pk"))
    assert [lot.status for lot in lots] == ["quarantine", "quarantine", "on_hold"]
    assert lots[1].unit == "bag" and str(lots[1].on_hand) == "24.500" and lots[0].imported
    assert InventoryTransaction.objects.filter(kind="receipt").count() == 3
    events = AuditEvent.objects.filter(action="materials.lot.imported")
    assert [e.reason for e in events] == [
        "CSV import, row 2",
        "CSV import, row 3",
        "CSV import, row 4",
    ]
    assert verify_chain().ok


def test_one_bad_row_imports_nothing_and_names_row_and_field(master, site, importer):
    rows = list(GOOD)
    rows.insert(1, "MAT-0001,Miltenyi Biotec,6201255,3,vial,2026-13-01,Fridge F-02,")
    with unchanged(), pytest.raises(ImportRejected) as exc:
        import_lots(actor=importer, site_id=site.pk, file=_csv(*rows))
    assert [str(e) for e in exc.value.errors] == [
        "row 3, expiry_date: not a date (2026-13-01); use YYYY-MM-DD"
    ]
    assert "row 3, expiry_date" in exc.value.message and exc.value.field == "file"
    assert exc.value.as_dict()["errors"] == [
        {"row": 3, "field": "expiry_date", "message": "not a date (2026-13-01); use YYYY-MM-DD"}
    ]


def test_every_bad_row_and_field_is_reported(master, site, importer):
    rows = (
        "MAT-9999,Miltenyi Biotec,A,1,vial,2027-01-01,F,",
        "MAT-0001,Nobody Inc,A,-1,mL,2027-01-01,,released",
        "MAT-0001,Miltenyi Biotec,A,1,vial,2027-01-01",
    )
    with unchanged(), pytest.raises(ImportRejected) as exc:
        import_lots(actor=importer, site_id=site.pk, file=_csv(*rows))
    assert [(e.row, e.field) for e in exc.value.errors] == [
        (2, "part_number"),
        (3, "supplier"),
        (3, "quantity"),
        (3, "location"),
        (3, "status"),
        (3, "unit"),
        (4, "row"),
    ]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (HEADER.encode(), "no lots"),
        (b"part_number,supplier\nMAT-0001,x\n", "row 1, header: missing column supplier_lot"),
        (HEADER.replace("status", "colour").encode(), "unknown column 'colour'"),
        (HEADER.encode() + b"MAT-0001,\xff\xfe,,,,,,\n", "cannot be read"),
    ],
)
def test_a_bad_file_is_refused_whole(master, site, importer, content, match):
    with unchanged(), pytest.raises(ValidationFailed, match=match):
        import_lots(actor=importer, site_id=site.pk, file=SimpleUploadedFile("l.csv", content))


def test_import_needs_the_role(master, site, operator):
    with unchanged(), pytest.raises(PermissionRefused):
        import_lots(actor=operator, site_id=site.pk, file=_csv(*GOOD))


def test_the_command_imports_and_reports_bad_rows(master, site, importer, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "\n".join(GOOD) + "\n")
    out = io.StringIO()
    call_command("materials", "import-lots", str(good), site=site.code, user="importer", stdout=out)
    assert "3 lot(s) imported" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "MAT-0001,Miltenyi Biotec,X,1,vial,someday,F,\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command(
            "materials", "import-lots", str(bad), site=site.code, user="importer", stderr=err
        )
    assert "row 2, expiry_date: not a date (someday)" in err.getvalue()
    assert Lot.objects.count() == 3
    with pytest.raises(CommandError, match="does not exist"):
        call_command("materials", "import-lots", str(good), site="NOPE", user="importer")
