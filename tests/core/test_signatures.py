"""E-signatures: password re-entry, meaning, role, four eyes, binding to the signed content."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.choices import Role
from vein2vein.core.errors import PermissionRefused, SignatureRefused, ValidationFailed
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.core.signing import (
    is_valid,
    manifestation,
    record_content_hash,
    require_second_person,
    signatures_for,
)
from vein2vein.core.time import now


@pytest.fixture(autouse=True)
def _site_entered_by_an_administrator(site, reviewable_site):  # type: ignore[no-untyped-def]
    """Signed here as master data an administrator entered (its performer is known)."""
    site.refresh_from_db()


def test_sign_stores_meaning_hash_and_audit_event(qa_reviewer, site):
    sig = services.sign_record(
        actor=qa_reviewer, record=site, meaning="reviewed", password=PASSWORD, reason="ok"
    )
    assert sig.content_hash == record_content_hash(site)
    assert sig.signer_name == "Rita Reviewer"
    assert sig.time_zone == "Europe/Madrid"
    event = AuditEvent.objects.get(action="signature.reviewed")
    assert (event.record_type, event.record_id) == ("core.site", str(site.pk))
    assert event.changes["content_hash"]["new"] == sig.content_hash
    assert is_valid(sig)


def test_signature_reads_invalid_after_the_record_changes(qa_reviewer, admin_user, site):
    sig = services.sign_record(
        actor=qa_reviewer, record=site, meaning="reviewed", password=PASSWORD
    )
    services.update_site(actor=admin_user, site_id=site.pk, reason="renamed", name="New name")
    site.refresh_from_db()
    assert not is_valid(sig)
    shown = manifestation(sig)
    assert shown.valid is False
    assert "NO LONGER VALID" in str(shown)


def test_manifestation_has_printed_name_time_with_zone_and_meaning(qa_reviewer, site):
    sig = services.sign_record(
        actor=qa_reviewer, record=site, meaning="reviewed", password=PASSWORD
    )
    text = str(manifestation(sig))
    assert "Rita Reviewer (qa1)" in text
    assert "Reviewed" in text
    assert "Europe/Madrid" in text
    assert ("CET" in text) or ("CEST" in text)
    assert sig.signed_at.strftime("%Y-%m-%d") in text or "UTC+0" in text


def test_wrong_password_is_refused_and_nothing_written(qa_reviewer, site):
    with nothing_written(), pytest.raises(SignatureRefused, match="password is incorrect") as exc:
        services.sign_record(actor=qa_reviewer, record=site, meaning="reviewed", password="nope")
    assert exc.value.field == "password"


def test_empty_password_is_refused(qa_reviewer, site):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.sign_record(actor=qa_reviewer, record=site, meaning="reviewed", password="")
    assert exc.value.field == "password"


def test_unknown_meaning_is_refused(qa_reviewer, site):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.sign_record(actor=qa_reviewer, record=site, meaning="liked", password=PASSWORD)
    assert exc.value.field == "meaning"


@pytest.mark.parametrize(
    ("role", "meaning"),
    [
        (Role.OPERATOR, "approved"),
        (Role.OPERATOR, "released"),
        (Role.VERIFIER, "released"),
        (Role.QA_REVIEWER, "released"),
        (Role.ADMIN, "reviewed"),
        (Role.INSPECTOR, "reviewed"),
        (Role.INSPECTOR, "performed"),
    ],
)
def test_roles_that_may_not_sign_a_meaning_are_refused(make_user, site, role, meaning):
    actor = make_user(role)
    with nothing_written(), pytest.raises(PermissionRefused, match=meaning):
        services.sign_record(actor=actor, record=site, meaning=meaning, password=PASSWORD)


def test_role_at_another_site_does_not_count(make_user, make_site, site):
    elsewhere = make_site(code="ELSEWHERE")
    actor = make_user(Role.QA_REVIEWER, at=elsewhere)
    with nothing_written(), pytest.raises(PermissionRefused, match="at MFG-TEST"):
        services.sign_record(actor=actor, record=site, meaning="reviewed", password=PASSWORD)


def test_performer_cannot_verify_own_work(make_user, site):
    supervisor = make_user(Role.SUPERVISOR)
    services.sign_record(actor=supervisor, record=site, meaning="performed", password=PASSWORD)
    with nothing_written(), pytest.raises(SignatureRefused, match="second person"):
        services.sign_record(actor=supervisor, record=site, meaning="verified", password=PASSWORD)
    verifier = make_user(Role.VERIFIER)
    services.sign_record(actor=verifier, record=site, meaning="verified", password=PASSWORD)
    meanings = [s.meaning for s in signatures_for(site)]
    assert meanings == ["performed", "verified"]


def test_explicit_performer_is_honoured(make_user, site):
    supervisor = make_user(Role.SUPERVISOR)
    with nothing_written(), pytest.raises(SignatureRefused):
        services.sign_record(
            actor=supervisor,
            record=site,
            meaning="approved",
            password=PASSWORD,
            performed_by=supervisor,
        )


def test_four_eyes_helper(operator, qa_reviewer):
    require_second_person(performer=operator, second=qa_reviewer)
    with pytest.raises(SignatureRefused):
        require_second_person(performer=operator, second=operator)


def test_same_signature_twice_is_refused(qa_reviewer, site):
    services.sign_record(actor=qa_reviewer, record=site, meaning="reviewed", password=PASSWORD)
    with nothing_written(), pytest.raises(ValidationFailed, match="already signed"):
        services.sign_record(actor=qa_reviewer, record=site, meaning="reviewed", password=PASSWORD)
    assert Signature.objects.count() == 1


def test_password_check_refuses_to_run_inside_a_transaction(qa_reviewer):
    """Inside one, a failed attempt would be rolled back and never count toward lockout."""
    from django.db import transaction

    with transaction.atomic(), pytest.raises(RuntimeError, match="outside"):
        services.check_password_for_signing(qa_reviewer, PASSWORD, None)


def test_apply_signature_needs_the_callers_transaction(qa_reviewer, site):
    proof = services.check_password_for_signing(qa_reviewer, PASSWORD, None)
    with nothing_written(), pytest.raises(RuntimeError, match="inside"):
        services.apply_signature(proof=proof, actor=qa_reviewer, record=site, meaning="reviewed")


def test_composite_step_checks_password_then_signs_in_its_own_transaction(qa_reviewer, site):
    from django.db import transaction

    proof = services.check_password_for_signing(qa_reviewer, PASSWORD, None)
    with transaction.atomic():
        sig = services.apply_signature(
            proof=proof, actor=qa_reviewer, record=site, meaning="reviewed"
        )
    assert is_valid(sig)


def test_apply_signature_is_unusable_without_the_password_proof(qa_reviewer, site):
    """No caller can apply a signature and forget the password check."""
    from django.db import transaction

    from vein2vein.core.services.signatures import PasswordProof

    with transaction.atomic(), pytest.raises(TypeError, match="proof"):
        services.apply_signature(actor=qa_reviewer, record=site, meaning="reviewed")  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="only by check_password_for_signing"):
        PasswordProof(user_id=qa_reviewer.pk, checked_at=now(), _seal=object())
    with nothing_written(), transaction.atomic(), pytest.raises(RuntimeError, match="proof"):
        services.apply_signature(
            proof="I checked, honest",  # type: ignore[arg-type]
            actor=qa_reviewer,
            record=site,
            meaning="reviewed",
        )


def test_a_password_proof_signs_only_for_its_own_user_and_only_while_fresh(
    qa_reviewer, operator, site, monkeypatch
):
    import datetime as dt

    from django.db import transaction

    from vein2vein.core.services import signatures as sig_module

    proof = services.check_password_for_signing(operator, PASSWORD, None)
    with nothing_written(), transaction.atomic(), pytest.raises(RuntimeError, match="another"):
        services.apply_signature(proof=proof, actor=qa_reviewer, record=site, meaning="reviewed")
    mine = services.check_password_for_signing(qa_reviewer, PASSWORD, None)
    later = now() + sig_module.PROOF_LIFETIME + dt.timedelta(seconds=1)
    monkeypatch.setattr(sig_module, "now", lambda: later)
    with nothing_written(), transaction.atomic(), pytest.raises(RuntimeError, match="expired"):
        services.apply_signature(proof=mine, actor=qa_reviewer, record=site, meaning="reviewed")


def test_a_record_can_restrict_what_the_generic_sign_path_may_add(qa_reviewer, site, monkeypatch):
    import dataclasses

    from vein2vein.core import signing

    entry = signing.signable_entry("core.site")
    narrowed = dataclasses.replace(entry, general=frozenset({"performed"}))
    monkeypatch.setitem(signing._SIGNABLE, "core.site", narrowed)
    with nothing_written(), pytest.raises(ValidationFailed, match="own workflow") as exc:
        services.sign_record(actor=qa_reviewer, record=site, meaning="reviewed", password=PASSWORD)
    assert exc.value.field == "meaning"


# --- the allow-list of signable records ----------------------------------------------------


@pytest.mark.parametrize("record_type", ["core.apitoken", "core.user", "equipment.equipment"])
def test_the_general_route_refuses_a_model_that_is_not_registered(qa_reviewer, record_type, client):
    """Proved on a fresh demo before: a QA approver signed 'released' on a token and a user."""
    from tests.core.test_api import bearer

    target = qa_reviewer.pk
    headers = bearer(qa_reviewer)
    with nothing_written():
        response = client.post(
            "/api/v1/signatures",
            {
                "record_type": record_type,
                "record_id": str(target),
                "meaning": "released",
                "password": PASSWORD,
            },
            content_type="application/json",
            **headers,
        )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "record_type"
    assert "not a signable record" in response.json()["detail"]


def test_signing_an_unregistered_record_is_refused_by_the_service_too(qa_reviewer):
    from django.db import transaction

    proof = services.check_password_for_signing(qa_reviewer, PASSWORD, None)
    with nothing_written(), transaction.atomic(), pytest.raises(ValidationFailed) as exc:
        services.apply_signature(
            proof=proof, actor=qa_reviewer, record=qa_reviewer, meaning="approved"
        )
    assert exc.value.field == "record_type"
    with nothing_written(), pytest.raises(ValidationFailed, match="not a signable"):
        services.sign_record(
            actor=qa_reviewer, record=qa_reviewer, meaning="reviewed", password=PASSWORD
        )


def test_a_meaning_not_registered_for_the_model_is_refused(qa_reviewer, site, monkeypatch):
    """A step entry is performed and verified, never 'released'; a site narrowed to
    'performed' refuses 'reviewed' even from its own workflow."""
    import dataclasses

    from django.db import transaction

    from vein2vein.core import signing

    narrowed = dataclasses.replace(
        signing.signable_entry("core.site"), meanings=frozenset({"performed"}), general=frozenset()
    )
    monkeypatch.setitem(signing._SIGNABLE, "core.site", narrowed)
    proof = services.check_password_for_signing(qa_reviewer, PASSWORD, None)
    with nothing_written(), transaction.atomic(), pytest.raises(ValidationFailed) as exc:
        services.apply_signature(proof=proof, actor=qa_reviewer, record=site, meaning="reviewed")
    assert exc.value.field == "meaning"

    assert "released" not in signing.signable_entry("manufacturing.stepentry").meanings
    assert signing.signable_entry("manufacturing.stepentry").general == frozenset()


def test_a_second_person_meaning_with_no_known_performer_is_refused(qa_reviewer, make_user):
    """A site whose only history is the console bootstrap (the system) has no performer."""
    from tests.core.factories import SiteFactory

    bare = SiteFactory(code="BARE-1", kind="manufacturing", time_zone="Europe/Madrid")
    make_user(Role.QA_REVIEWER, at=bare, username="qa-bare")
    reviewer = type(qa_reviewer).objects.get(username="qa-bare")
    with nothing_written(), pytest.raises(SignatureRefused, match="not recorded") as exc:
        services.sign_record(actor=reviewer, record=bare, meaning="reviewed", password=PASSWORD)
    assert exc.value.field == "meaning"


def test_every_registered_model_names_its_site_and_performer():
    from vein2vein.core import signing

    types = signing.signable_types()
    for expected in (
        "core.site",
        "chain.therapyorder",
        "manufacturing.batch",
        "manufacturing.stepentry",
        "quality.deviation",
        "materials.lot",
        "documents.documentversion",
    ):
        assert expected in types
    for entry in types.values():
        assert callable(entry.site_of) and callable(entry.performer_of)
        assert entry.general <= entry.meanings
