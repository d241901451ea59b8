"""Settings from the environment (prefix SHOTLINE_) or a `.env` file.

Provider keys keep their providers' conventional names and are `SecretStr`, so printing or
dumping settings never shows them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SHOTLINE_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    home: Path = Field(default=Path("~/.shotline"), description="projects, takes, bible, checkpoints")
    llm: str = Field(default="none", description="'provider:model', or 'none' for offline")
    llm_base_url: str | None = None
    budget_usd: float = Field(default=0.0, ge=0.0, description="approved spend per run")
    api_tokens: SecretStr | None = None
    concurrency: int = Field(default=2, ge=1, description="takes rendered at once per provider")
    takes_per_shot: int = Field(default=1, ge=1, le=8, description="best of N: takes rendered per shot")
    qc_retries: int = Field(default=0, ge=0, le=3, description="retries of a shot that fails take QC")
    image_provider: str = Field(
        default="local", description="reference sheets: local, seedream, openai, flux"
    )
    poll_s: float = Field(default=2.0, gt=0, description="shortest wait between polls of a hosted task")
    upload_max_bytes: int = Field(default=20_000_000, ge=1, description="largest upload the API and UI take")
    webhook_allow_private: bool = Field(
        default=False, description="let webhooks reach private and loopback addresses (tests, intranets)"
    )

    ark_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("ARK_API_KEY"))
    kling_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KLING_ACCESS_KEY")
    )
    kling_secret_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KLING_SECRET_KEY")
    )
    minimax_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("MINIMAX_API_KEY"))
    runwayml_api_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("RUNWAYML_API_SECRET")
    )
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    gemini_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("GEMINI_API_KEY"))
    vidu_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("VIDU_API_KEY"))
    dashscope_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DASHSCOPE_API_KEY")
    )
    fal_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("FAL_KEY"))
    comfyui_url: str | None = Field(default=None, validation_alias=AliasChoices("COMFYUI_URL"))

    # speech (dialogue voices); OpenAI and MiniMax speech use the keys above
    speech_provider: str = Field(
        default="auto",
        description="who speaks the dialogue: auto (espeak-ng when installed, else captions only), none "
        "(captions only), or openai, minimax, elevenlabs, volcengine, espeak",
    )
    speech_model: str | None = Field(default=None, description="that provider's model id; None: its default")
    native_audio: bool = Field(
        default=False,
        description="ask video models that make sound to voice the shots with dialogue themselves "
        "(some bill more for it); their lines are then kept, not spoken again",
    )
    elevenlabs_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ELEVENLABS_API_KEY")
    )
    volcengine_tts_app_id: str | None = Field(
        default=None, validation_alias=AliasChoices("VOLCENGINE_TTS_APP_ID")
    )
    volcengine_tts_access_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("VOLCENGINE_TTS_ACCESS_TOKEN")
    )

    # the chat model (SHOTLINE_LLM): its own knobs, then the keys of the providers that serve one
    llm_structured: str | None = Field(
        default=None,
        description="how answers are forced into a form: json_schema, function_calling or json_mode "
        "(default: json_schema for openai, function_calling for the other OpenAI-compatible endpoints)",
    )
    llm_timeout_s: float = Field(default=60.0, gt=0, description="seconds one chat-model request may take")
    llm_max_retries: int = Field(default=2, ge=0, le=10, description="retries of a 429/5xx/timeout")
    deepseek_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DEEPSEEK_API_KEY")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY")
    )
    vllm_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("VLLM_API_KEY"))

    @property
    def root(self) -> Path:
        return self.home.expanduser()

    @property
    def projects_dir(self) -> Path:
        return self.root / "projects"

    @property
    def takes_dir(self) -> Path:
        return self.root / "takes"

    @property
    def bible_dir(self) -> Path:
        return self.root / "bible"

    @property
    def checkpoints_path(self) -> Path:
        return self.root / "checkpoints.sqlite"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
