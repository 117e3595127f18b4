"""Master batch records: a controlled document (kind MBR) whose file is the YAML, parsed and
checked here. Review and approval are the documents app's signed workflow; the signatures bind
the YAML through the version's file SHA-256, and the MasterRecord row keeps the parsed,
normalised definition that batches execute.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from vein2vein.chain.models import TherapyProduct
from vein2vein.core import audit
from vein2vein.core.errors import Conflict, NotFound, ValidationFailed
from vein2vein.core.files import verified_copy
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.time import now
from vein2vein.documents.choices import DocumentKind, VersionStatus
from vein2vein.documents.models import Document, DocumentVersion
from vein2vein.documents.services import create_version, draft_new_document
from vein2vein.equipment.choices import EquipmentKind
from vein2vein.materials.models import Material
from vein2vein.training.selectors import resolve_requirement

from .. import mbr
from ..models import MasterRecord
from ..permissions import MfgPerm
from . import _common as c


def _text_of(source: object) -> str:
    if isinstance(source, bytes):
        try:
            return source.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed("the MBR file is not UTF-8 text", field="file") from None
    if isinstance(source, str):
        return source
    read = getattr(source, "read", None)
    if callable(read):
        source.seek(0)  # type: ignore[attr-defined]
        return _text_of(read(mbr.MAX_BYTES + 1))
    raise ValidationFailed("file must be a YAML master batch record", field="file")


def parse_and_check(text: str) -> tuple[dict[str, Any], TherapyProduct]:
    """The normalised definition, with every reference checked against the database; a
    ValidationFailed naming the YAML path otherwise."""
    try:
        definition = mbr.load(text)
    except ValueError as exc:
        path = getattr(exc, "path", "")
        raise ValidationFailed(
            f"MBR {path + ': ' if path else ''}{getattr(exc, 'message', str(exc))}", field="file"
        ) from None
    refs = mbr.references(definition)
    product = TherapyProduct.objects.filter(code=refs.product, is_active=True).first()
    if product is None:
        raise ValidationFailed(
            f"MBR product: no active product with code {refs.product!r}", field="file"
        )
    known_parts = set(
        Material.objects.filter(part_number__in=refs.parts).values_list("part_number", flat=True)
    )
    for path, step in _step_paths(definition):
        if step["kind"] == "material" and step["part"] not in known_parts:
            raise ValidationFailed(
                f"MBR {path}.part: no material with part number {step['part']!r}", field="file"
            )
        for i, requirement in enumerate(step.get("requires") or []):
            if resolve_requirement(requirement) is None:
                raise ValidationFailed(
                    f"MBR {path}.requires[{i}]: {requirement!r} is neither a document nor a "
                    "qualification",
                    field="file",
                )
    unknown_kinds = sorted(refs.equipment_kinds - set(EquipmentKind.values))
    if unknown_kinds:
        raise ValidationFailed(
            f"MBR equipment steps name unknown kinds: {', '.join(unknown_kinds)}", field="file"
        )
    return definition, product


def _step_paths(definition: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"operations[{i}].steps[{j}]", step)
        for i, operation in enumerate(definition["operations"])
        for j, step in enumerate(operation["steps"])
    ]


def validate_mbr(*, text: str) -> dict[str, Any]:
    """Check a YAML MBR without writing anything (the authoring page's 'Check' button)."""
    definition, _ = parse_and_check(_text_of(text))
    return definition


def _store_master_record(*, version: DocumentVersion, text: str, actor: User) -> MasterRecord:
    """Create, or (while the version is a draft or in review) replace, the parsed record."""
    definition, product = parse_and_check(text)
    values = {
        "product": product,
        "process_version": definition["process_version"],
        "title": definition["title"],
        "definition": definition,
        "yaml_text": text,
        "file_sha256": version.file_sha256,
        "definition_sha256": mbr.content_sha256(definition),
        "step_count": len(mbr.steps(definition)),
        "parsed_by": actor,
        "parsed_at": now(),
    }
    existing = (
        MasterRecord.objects.select_for_update(no_key=True, of=("self",))
        .filter(document_version=version)
        .first()
    )
    if existing is None:
        record = MasterRecord.objects.create(document_version=version, **values)
        audit.append_event(
            actor=actor,
            action="manufacturing.mbr.parsed",
            record=record,
            changes=audit.created(audit.snapshot(record, MasterRecord.RECORD_FIELDS)),
        )
        return record
    if existing.file_sha256 == version.file_sha256:
        return existing
    if version.status not in (VersionStatus.DRAFT, VersionStatus.IN_REVIEW):
        raise Conflict(f"{version} is {version.status}: its MBR can no longer change")
    before = audit.snapshot(existing, MasterRecord.RECORD_FIELDS)
    for key, value in values.items():
        setattr(existing, key, value)
    existing.save(update_fields=list(values))
    audit.append_event(
        actor=actor,
        action="manufacturing.mbr.reparsed",
        record=existing,
        changes=audit.diff(before, audit.snapshot(existing, MasterRecord.RECORD_FIELDS)),
        reason="a new YAML file was uploaded to the draft",
    )
    return existing


def import_master_record(
    *,
    actor: User,
    yaml_text: object,
    change_summary: str,
    document_id: int | None = None,
    title: str | None = None,
    file_name: str | None = None,
    effective_date: dt.date | None = None,
) -> MasterRecord:
    """Import a YAML MBR as a new draft version: of a new MBR document (title given) or of an
    existing one (document_id). Checked in full before anything is written; then the documents
    workflow (submit, review, approve) makes it effective."""
    require(actor, MfgPerm.MBR_AUTHOR)
    text = _text_of(yaml_text)
    definition, _ = parse_and_check(text)
    name = c.text(
        file_name or f"{definition['product']}-{definition['process_version']}.yaml",
        "file_name",
        max_length=200,
    )
    if not name.lower().endswith((".yaml", ".yml")):
        name += ".yaml"
    upload = ContentFile(text.encode("utf-8"), name=name)
    with transaction.atomic():
        if document_id is None:
            version = draft_new_document(
                actor=actor,
                kind=DocumentKind.MASTER_BATCH_RECORD,
                title=c.text(title or definition["title"], "title", max_length=200),
                change_summary=change_summary,
                file=upload,
                effective_date=effective_date,
            )
        else:
            document = Document.objects.filter(pk=c.record_id(document_id, "document_id")).first()
            if document is None:
                raise NotFound(f"document {document_id} does not exist", field="document_id")
            if document.kind != DocumentKind.MASTER_BATCH_RECORD:
                raise ValidationFailed(
                    f"{document.number} is not a master batch record", field="document_id"
                )
            version = create_version(
                actor=actor,
                document=document,
                change_summary=change_summary,
                file=upload,
                effective_date=effective_date,
            )
        return _store_master_record(version=version, text=text, actor=actor)


def on_version_submitted(*, version: DocumentVersion, actor: User) -> None:
    """Hook receiver (documents.version_submitted): an MBR version goes to review only with a
    YAML file that parses and whose references exist; its MasterRecord is (re)built from the
    file as stored, so what is reviewed is exactly what batches will run."""
    if version.document.kind != DocumentKind.MASTER_BATCH_RECORD:
        return
    if not version.file_name.lower().endswith((".yaml", ".yml")):
        raise ValidationFailed(
            f"{version} is a master batch record: its file must be the YAML MBR, not a PDF",
            field="file",
        )
    copy = verified_copy(version.file.name, version.file_sha256)
    if copy is None:
        raise Conflict(f"the stored file of {version} no longer matches its SHA-256", field="file")
    with copy:
        text = _text_of(copy.read(mbr.MAX_BYTES + 1))
    _store_master_record(version=version, text=text, actor=actor)


def effective_master_record(product: TherapyProduct) -> MasterRecord | None:
    """The master record of the product's effective MBR version (None if there is none)."""
    return (
        MasterRecord.objects.select_related("document_version", "product")
        .filter(product=product, document_version__status=VersionStatus.EFFECTIVE)
        .order_by("-document_version__effective_at")
        .first()
    )
