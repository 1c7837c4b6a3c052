"""Uploaded clips: one multipart form field ``video`` (``.mp4`` or ``.gif``), at most ``max_bytes``, written to a
temporary file of the data folder that the caller removes. Every refusal names the field: 411 without a
``Content-Length``, 413 over the limit, 415 for another body or format, 422 for a missing or extra field."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request

from sora_core.serve.problems import ServeError

#: The clip formats an upload may have (by its file name).
CLIP_SUFFIXES = (".mp4", ".gif")
#: Room for the multipart framing and the small text fields around the clip.
_FRAMING = 64 * 1024
_HINT = "send the clip as the multipart form field 'video', e.g. curl -F video=@clip.mp4"


async def read_clip(
    request: Request, folder: Path, max_bytes: int, text_fields: Sequence[str] = ()
) -> tuple[Path, dict[str, str]]:
    """The uploaded clip, saved under ``folder``, and the text fields named in ``text_fields``."""
    length = request.headers.get("content-length")
    if length is None or not length.strip().isdigit():
        raise ServeError(411, "the upload has no Content-Length header", "send the clip with its length", field="video")
    if int(length) > max_bytes + _FRAMING:
        raise _too_large(f"{int(length):,} bytes were announced", max_bytes)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ServeError(415, "the body is not multipart/form-data", _HINT, field="video")
    try:
        form = await request.form(max_files=1, max_fields=len(text_fields) + 1, max_part_size=_FRAMING)
    except Exception as exc:  # starlette's MultiPartException and the parser's own errors
        raise ServeError(400, f"the multipart body cannot be read: {exc}", _HINT, field="video") from None
    try:
        for name in form:
            if name != "video" and name not in text_fields:
                accepted = ", ".join(["video", *text_fields])
                raise ServeError(422, f"unknown form field {name!r}", f"the fields are {accepted}", field=name)
        upload = form.get("video")
        if not isinstance(upload, UploadFile):
            state = "is text, not a file" if "video" in form else "is missing"
            raise ServeError(422, f"the form field 'video' {state}", _HINT, field="video")
        suffix = Path(upload.filename or "").suffix.lower()
        if suffix not in CLIP_SUFFIXES:
            raise ServeError(
                415,
                f"the uploaded file {upload.filename!r} is not a .mp4 or .gif clip",
                "upload an H.264 .mp4 or a .gif",
                field="video",
            )
        size = upload.size if upload.size is not None else 0
        if size > max_bytes:
            raise _too_large(f"the clip is {size:,} bytes", max_bytes)
        if size == 0:
            raise ServeError(422, "the uploaded clip is empty", "upload the clip's bytes", field="video")
        texts = {}
        for name in text_fields:
            value = form.get(name)
            if value is not None and not isinstance(value, str):
                raise ServeError(422, f"the form field {name!r} is a file, not text", "send it as text", field=name)
            if value is not None:
                texts[name] = value
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=folder)
        with os.fdopen(fd, "wb") as sink:
            await upload.seek(0)
            shutil.copyfileobj(upload.file, sink)
        return Path(name), texts
    finally:
        await form.close()


def _too_large(what: str, max_bytes: int) -> ServeError:
    return ServeError(
        413,
        f"the upload is too large: {what}, over this server's limit of {max_bytes:,} bytes",
        "send a shorter or smaller clip, or start the server with a larger --max-upload-mb",
        field="video",
    )
