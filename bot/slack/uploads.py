"""Files into Slack with its external upload API: ask for an upload URL, send the bytes
there, then complete the upload into a channel (and a thread). The only code that does.
"""

from __future__ import annotations

import httpx
from slack_sdk.web.async_client import AsyncWebClient


class UploadRefused(Exception):
    """The upload URL did not take the bytes (its HTTP status says why)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the upload URL answered HTTP {status}")
        self.status = status


async def upload_into_thread(
    client: AsyncWebClient,
    *,
    channel: str,
    thread_ts: str | None,
    filename: str,
    title: str,
    content: bytes,
) -> str:
    """Upload `content` as `filename` into `channel` (under `thread_ts` when given) and
    return the file's id. Raises SlackApiError for Slack's refusals, UploadRefused or an
    httpx error when the bytes do not get through."""
    ticket = await client.files_getUploadURLExternal(
        filename=filename, length=len(content), alt_txt=title
    )
    # Slack's own calls keep the client's timeout; the bytes get the same.
    async with httpx.AsyncClient(timeout=float(client.timeout)) as http:
        answer = await http.post(
            str(ticket["upload_url"]),
            content=content,
            headers={"Content-Type": "application/octet-stream"},
        )
    if answer.status_code != httpx.codes.OK:
        raise UploadRefused(answer.status_code)
    file_id = str(ticket["file_id"])
    await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": title}], channel_id=channel, thread_ts=thread_ts
    )
    return file_id
