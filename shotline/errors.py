"""Every error Shotline raises on purpose, as one tree.

ShotlineError            something a user can act on; `code` is stable for CLI/API/UI
├── InputError           the input itself is wrong (exit code 2): missing, empty, binary, unparseable
│   └── ScriptError      a screenplay that cannot be parsed, with the line that broke it
├── UnknownProviderError a provider name that Shotline does not know
├── ProviderError        a video/image model failed
│   ├── TransientProviderError  worth retrying (429, 5xx, timeouts, resets)
│   └── RefusedPrompt           the model's moderation refused the prompt
├── RenderError          a take could not be produced or failed its checks
├── BudgetExceeded       the render would cost more than was approved
└── NotBuiltError        a feature that is named but not built yet
"""

from __future__ import annotations


class ShotlineError(Exception):
    """Base of every deliberate Shotline error; the message says what to do next."""

    code = "shotline_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(ShotlineError):
    """The input is missing, empty, binary or cannot be read as a script or brief."""

    code = "bad_input"


class ScriptError(InputError):
    """A screenplay that cannot be parsed; `line` points at the script."""

    code = "bad_script"

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


class UnknownProviderError(ShotlineError):
    """A provider name that is not registered."""

    code = "unknown_provider"


class ProviderError(ShotlineError):
    """A video or image model failed; `provider` names it."""

    code = "provider_error"

    def __init__(self, message: str, *, provider: str, shot_id: str | None = None) -> None:
        where = f" (shot {shot_id})" if shot_id else ""
        super().__init__(f"{provider}{where}: {message}")
        self.provider = provider
        self.shot_id = shot_id


class TransientProviderError(ProviderError):
    """A fault worth retrying: rate limit, 5xx, timeout, connection reset."""

    code = "provider_transient"

    def __init__(
        self, message: str, *, provider: str, shot_id: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, provider=provider, shot_id=shot_id)
        self.retry_after = retry_after


class UnknownOutcome(ProviderError):
    """A submit went out and no answer came back: the task may exist and be billed. Never resubmit
    blindly; look for it first."""

    code = "provider_unknown_outcome"


class ExpiredURL(ProviderError):
    """The provider's result URL no longer serves the file (they expire in 1 to 48 hours)."""

    code = "result_url_expired"


class ProviderUnavailable(ProviderError):
    """The provider has no key (or server URL) configured here, so it is never called."""

    code = "provider_unavailable"


class RefusedPrompt(ProviderError):
    """The provider's moderation refused the prompt; continuity should rewrite it."""

    code = "prompt_refused"


class RenderError(ShotlineError):
    """A take could not be produced, or the file produced is not a valid take."""

    code = "render_failed"


class BudgetExceeded(ShotlineError):
    """Rendering would spend more than the approved budget."""

    code = "budget_exceeded"


class NotBuiltError(ShotlineError):
    """A feature that Shotline names but has not built yet."""

    code = "not_built"


class LLMError(ShotlineError):
    """The chat model could not give a usable answer: misconfigured, unreachable, refused, or an answer
    that did not fit the form asked for. The agents fall back to their offline path on it."""

    code = "llm_error"


class LLMConfigError(LLMError):
    """SHOTLINE_LLM (or a setting it needs, such as the provider's key) is missing or malformed."""

    code = "llm_config"


class LLMUnavailable(LLMError):
    """The chat model cannot be used as configured: key refused, no permission, unknown model, or the
    endpoint cannot be reached."""

    code = "llm_unavailable"


class LLMTransient(LLMError):
    """A chat-model fault worth retrying later: rate limit, server error, timeout."""

    code = "llm_transient"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMRefused(LLMError):
    """The chat model refused to answer (a safety refusal), so asking again the same way won't help."""

    code = "llm_refused"
