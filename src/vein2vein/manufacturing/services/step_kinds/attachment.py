"""The attachment step: a file of at most 20 MB, hashed as it is stored with the entry."""

from __future__ import annotations

from django.core.files import File

from vein2vein.core.errors import ValidationFailed
from vein2vein.core.files import sha256_of_chunks

from ._shared import Prepared, StepHandler, StepInput

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


class AttachmentStep(StepHandler):
    def prepare(self, s: StepInput) -> Prepared:
        file = s.file
        if not isinstance(file, File):
            raise ValidationFailed("file is required: attach the document", field="file")
        if (file.size or 0) > MAX_ATTACHMENT_BYTES:
            raise ValidationFailed("file is larger than 20 MB", field="file")
        name = str(file.name or "attachment").replace("\\", "/").rsplit("/", 1)[-1][:200]
        file.seek(0)
        digest, _size = sha256_of_chunks(file.chunks())
        file.seek(0)
        return Prepared(file=file, file_sha256=digest, value_text=name)
