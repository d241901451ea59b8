"""Plumbing every hosted video wrapper shares: base URL override, auth, error mapping, downloads.

No policy here: no retries, no fallbacks, no budget. A wrapper raises the error that says what
happened (`TransientProviderError`, `UnknownOutcome`, `RefusedPrompt`, `ExpiredURL`,
`ProviderError`) and `tools/render.py` decides what to do about it.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx

from shotline.config import Settings
from shotline.errors import (
    ExpiredURL,
    ProviderError,
    ProviderUnavailable,
    RefusedPrompt,
    TransientProviderError,
    UnknownOutcome,
)
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, generic_key_payload

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DOWNLOAD_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524})
EXPIRED_STATUS = frozenset({403, 404, 410})


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` as seconds: either a number or an HTTP date."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class Hosted:
    """Base of a hosted video model wrapper: one provider, one chosen model id.

    Subclasses set the class attributes, implement `submit` and `poll`, and override `_refusal`,
    `_permanent` and `_check_body` to recognise their provider's moderation, quota and in-body errors.
    """

    provider: ClassVar[str]
    default_base_url: ClassVar[str]
    key_names: ClassVar[tuple[str, ...]]  # the environment variables a user sets, for messages
    cards: ClassVar[tuple[ModelCard, ...]]

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        model_id: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.card = self._card(model_id)
        self._client = client

    # --- construction -----------------------------------------------------------------------

    shared_base_url_var: ClassVar[str | None] = None
    """A second SHOTLINE_<NAME>_BASE_URL read when the provider's own is unset (same host, same key)."""

    @classmethod
    def from_settings(
        cls, settings: Settings, *, model_id: str | None = None, client: httpx.AsyncClient | None = None
    ):
        """Key from the provider's conventional variable, base URL from SHOTLINE_<NAME>_BASE_URL (or,
        when unset, the one of a provider on the same host: `shared_base_url_var`)."""
        base_url = os.environ.get(f"SHOTLINE_{cls.provider.upper()}_BASE_URL") or (
            os.environ.get(cls.shared_base_url_var) if cls.shared_base_url_var else None
        )
        return cls(
            api_key=cls.key_from(settings), base_url=base_url or None, model_id=model_id, client=client
        )

    @classmethod
    def key_from(cls, settings: Settings) -> str | None:
        secret = getattr(settings, cls.key_names[0].lower(), None)
        return secret.get_secret_value() if secret is not None else None

    def _card(self, model_id: str | None) -> ModelCard:
        if model_id is None:
            return self.cards[0]
        for card in self.cards:
            if card.model_id == model_id:
                return card
        known = ", ".join(c.model_id for c in self.cards)
        raise ProviderError(f"unknown model {model_id!r}; known models: {known}", provider=self.provider)

    def unavailable_reason(self) -> str | None:
        """Why this provider cannot be called here, or None when it can."""
        return None if self.api_key else f"no key: set {' and '.join(self.key_names)}"

    def require_available(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise ProviderUnavailable(reason, provider=self.provider)

    def _unsupported(self, what: str) -> ProviderError:
        return ProviderError(
            f"{self.card.display_name} ({self.card.model_id}) cannot take {what}; pick another model",
            provider=self.provider,
        )

    def _image_references(self, request: RenderRequest, *, hint: str = "") -> tuple[MediaRef, ...]:
        """The request's reference images, checked against the card before anything is sent: never
        mixed with keyframes, images only, no more than the model's slots."""
        refs, card = request.references, self.card
        if request.first_frame or request.last_frame:
            raise ProviderError(
                "cannot mix keyframes and reference images in one task; send one or the other",
                provider=self.provider,
            )
        if card.reference_images == 0:
            raise self._unsupported("reference images" + (f" (use {hint})" if hint else ""))
        if any(ref.kind != "image" for ref in refs):
            raise self._unsupported("video or audio references; only images")
        if len(refs) > card.reference_images:
            raise self._unsupported(f"{len(refs)} reference images; at most {card.reference_images}")
        return refs

    def key_payload(self, request: RenderRequest) -> dict[str, Any]:
        return {**generic_key_payload(request), "model_id": self.card.model_id}

    # --- HTTP ------------------------------------------------------------------------------

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
        return self._client

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> Any:
        """One API call; returns the decoded JSON body or raises the error that says what happened.

        A timeout or dropped connection after a POST was sent is `UnknownOutcome`: the task may
        exist and be billed, so the runner must not blindly submit again.
        """
        self.require_available()
        target = url or f"{self.base_url}{path}"
        try:
            response = await self.client.request(
                method, target, json=json, params=params, headers={**self.auth_headers(), **(headers or {})}
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TransientProviderError(
                f"cannot connect: {type(exc).__name__}", provider=self.provider
            ) from exc
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if method.upper() == "POST":
                raise UnknownOutcome(
                    f"no answer to the submit ({type(exc).__name__}); the task may exist",
                    provider=self.provider,
                ) from exc
            raise TransientProviderError(
                f"{type(exc).__name__} on {method} {path}", provider=self.provider
            ) from exc
        return self.decode(response)

    def decode(self, response: httpx.Response) -> Any:
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {"raw": response.text[:500]}
        if response.is_success:
            self._check_body(body)
            return body
        message = self._error_message(body) or response.reason_phrase
        status = response.status_code
        if self._refusal(status, body):
            raise RefusedPrompt(f"refused by moderation: {message}", provider=self.provider)
        if status in TRANSIENT_STATUS and not self._permanent(status, body):
            raise TransientProviderError(
                f"HTTP {status}: {message}",
                provider=self.provider,
                retry_after=retry_after_seconds(response.headers),
            )
        raise ProviderError(f"HTTP {status}: {message}", provider=self.provider)

    def _check_body(self, body: Any) -> None:
        """Providers that answer HTTP 200 with an error code in the body (Kling, MiniMax) raise here."""

    def _error_message(self, body: Any) -> str:
        """The provider's own words for an error body."""
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):
                return " ".join(str(err.get(k, "")) for k in ("code", "message") if err.get(k)).strip()
            for key in ("message", "msg", "detail"):
                if isinstance(body.get(key), str):
                    return body[key]
        return ""

    def _refusal(self, status: int, body: Any) -> bool:
        """Whether an error response is a moderation refusal (provider-specific codes)."""
        return False

    def _permanent(self, status: int, body: Any) -> bool:
        """A transient-looking status that must not be retried (e.g. a quota or spend cap on 429)."""
        return False

    async def download(self, url: str, dest: Path) -> Path:
        """Stream a result to `dest` (written as `.part`, then renamed). 403/404/410 is `ExpiredURL`."""
        part = dest.with_name(dest.name + ".part")
        try:
            async with self.client.stream("GET", url, timeout=DOWNLOAD_TIMEOUT) as response:
                if response.status_code in EXPIRED_STATUS:
                    raise ExpiredURL(
                        f"result URL answered HTTP {response.status_code}", provider=self.provider
                    )
                if response.status_code in TRANSIENT_STATUS:
                    raise TransientProviderError(
                        f"download answered HTTP {response.status_code}",
                        provider=self.provider,
                        retry_after=retry_after_seconds(response.headers),
                    )
                if not response.is_success:
                    raise ProviderError(
                        f"download answered HTTP {response.status_code}", provider=self.provider
                    )
                with part.open("wb") as fh:
                    async for chunk in response.aiter_bytes(1 << 16):
                        fh.write(chunk)
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise TransientProviderError(
                f"download broke off: {type(exc).__name__}", provider=self.provider
            ) from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, dest)
        return dest

    async def fetch(self, task_id: str, dest: Path) -> Path:
        """Download the finished take. An expired URL is asked for again once, from the task itself."""
        status = await self.poll(task_id)  # type: ignore[attr-defined]
        if status.state != "succeeded" or not status.url:
            raise ProviderError(
                f"task {task_id} has no result to fetch ({status.raw_status})", provider=self.provider
            )
        try:
            return await self.download(status.url, dest)
        except ExpiredURL:
            fresh = await self.poll(task_id)  # type: ignore[attr-defined]
            if not fresh.url or fresh.url == status.url:
                raise
            return await self.download(fresh.url, dest)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None  # a later call (another event loop) opens a fresh client
