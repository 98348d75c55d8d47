from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    Secret,
    Settings,
    load_dotenv_file,
    load_settings,
    redact_url,
)

BOT = "xoxb-1234-5678-abcdefSECRET"
APP = "xapp-1-A0APPROVE1-99-fedcbaSECRET"
TOKENS = {"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP}


def error_for(environ: dict[str, str], **kwargs: bool) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ, **kwargs)
    return caught.value


def test_defaults() -> None:
    settings = load_settings(TOKENS)
    assert settings.slack_bot_token == Secret(BOT)
    assert settings.slack_app_token is not None
    assert settings.slack_app_token.get() == APP
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.approvals_channel == "#approvals"
    assert settings.approvals_channel_name == "approvals"
    assert not settings.approvals_channel_is_id
    assert settings.approvers == frozenset()
    assert settings.approval_timeout == 3600.0
    assert settings.model_config is None
    assert settings.openai_api_key is None
    assert settings.log_level == "INFO"
    assert settings.log_level_number == logging.INFO
    assert settings.mention_approvers is True
    assert (settings.retention, settings.audit_retention) == (7 * 24 * 3600, 90 * 24 * 3600)


def test_settings_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings(TOKENS).log_level = "DEBUG"  # type: ignore[misc]


def test_tokens_optional_without_slack() -> None:
    settings = load_settings({}, require_slack=False)
    assert settings.slack_bot_token is None
    assert settings.slack_app_token is None


def test_empty_and_blank_values_count_as_unset() -> None:
    settings = load_settings({**TOKENS, "SLACK_API_URL": "", "APPROVAL_TIMEOUT": "  ", "LOG_LEVEL": ""})
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.approval_timeout == 3600.0
    assert settings.log_level == "INFO"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api/"),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/api/"),
        ("https://slack.com/api", "https://slack.com/api/"),
        (" http://localhost:1234 ", "http://localhost:1234/"),
    ],
)
def test_slack_api_url_ends_with_slash(raw: str, expected: str) -> None:
    assert load_settings({**TOKENS, "SLACK_API_URL": raw}).slack_api_url == expected


def test_normalisation() -> None:
    settings = load_settings(
        {
            **TOKENS,
            "APPROVERS": " U0ALICE123 ,W0BOB45678,, U0ALICE123 ,S0OPSTEAM1",
            "MENTION_APPROVERS": "off",
            "RETENTION": "86400",
            "AUDIT_RETENTION": "172800",
            "APPROVAL_TIMEOUT": "2.5",
            "APPROVALS_CHANNEL": "Approvals",
            "LOG_LEVEL": "debug",
            "OPENAI_API_KEY": "sk-secret",
            "REDIS_URL": "unix:///tmp/redis.sock",
            "OPS_DB": "/var/lib/bot/ops.db",
            "CODE_TIMEOUT": "5",
            "SELF_APPROVAL": " Deny",
            "MAX_REVISIONS": "2",
            "ASK_AGAIN_WINDOW": "0",
            "STANDING_TIMEBOX": "60",
            "HEALTH_PORT": "9102",
            "LOG_FORMAT": "JSON",
        }
    )
    assert (settings.health_port, settings.health_host, settings.log_format) == (9102, "0.0.0.0", "json")
    assert (load_settings(TOKENS).health_port, load_settings(TOKENS).log_format) == (None, "text")
    assert (settings.ask_again_window, settings.standing_timebox) == (0, 60)
    defaults = load_settings(TOKENS)
    assert (defaults.ask_again_window, defaults.standing_timebox) == (86400, 900)
    assert settings.max_revisions == 2 and load_settings(TOKENS).max_revisions == 5
    assert (settings.ops_db, settings.code_timeout) == (Path("/var/lib/bot/ops.db"), 5.0)
    assert settings.self_approval is False and load_settings(TOKENS).self_approval is True
    assert settings.approvers == frozenset({"U0ALICE123", "W0BOB45678", "S0OPSTEAM1"})
    assert settings.approver_users == frozenset({"U0ALICE123", "W0BOB45678"})
    assert settings.approver_groups == frozenset({"S0OPSTEAM1"})
    assert settings.mention_approvers is False
    assert (settings.retention, settings.audit_retention) == (86400, 172800)
    assert settings.approval_timeout == 2.5
    assert settings.approvals_channel == "#approvals"
    assert settings.log_level == "DEBUG"
    assert settings.openai_api_key == Secret("sk-secret")
    assert settings.redis_url == "unix:///tmp/redis.sock"
    assert load_settings({**TOKENS, "LOG_LEVEL": "warn"}).log_level == "WARNING"


def test_channel_id() -> None:
    settings = load_settings({**TOKENS, "APPROVALS_CHANNEL": "C0APPROVAL"})
    assert settings.approvals_channel == "C0APPROVAL"
    assert settings.approvals_channel_is_id
    assert settings.approvals_channel_name is None
    assert load_settings({**TOKENS, "APPROVALS_CHANNEL": "#ops-approvals"}).approvals_channel == "#ops-approvals"


def test_model_config_must_exist(tmp_path: Path) -> None:
    config = tmp_path / "model.yaml"
    config.write_text("provider: x\n")
    assert load_settings({**TOKENS, "MODEL_CONFIG": str(config)}).model_config == config
    error = error_for({**TOKENS, "MODEL_CONFIG": str(tmp_path / "missing.json")})
    assert error.variable == "MODEL_CONFIG"
    assert "does not exist" in str(error)
    assert "MODEL_CONFIG" in str(error_for({**TOKENS, "MODEL_CONFIG": str(tmp_path / "model.txt")}))


@pytest.mark.parametrize(
    ("environ", "variable", "words"),
    [
        ({"SLACK_APP_TOKEN": APP}, "SLACK_BOT_TOKEN", "is missing: set it to the bot token (xoxb-...)"),
        ({"SLACK_BOT_TOKEN": BOT}, "SLACK_APP_TOKEN", "is missing: set it to an app-level token (xapp-...)"),
        ({**TOKENS, "SLACK_BOT_TOKEN": APP}, "SLACK_BOT_TOKEN", "looks like an app-level token"),
        ({**TOKENS, "SLACK_APP_TOKEN": BOT}, "SLACK_APP_TOKEN", "looks like a bot token"),
        ({**TOKENS, "SLACK_BOT_TOKEN": "xoxp-user-SECRET"}, "SLACK_BOT_TOKEN", "looks like a user token"),
        ({**TOKENS, "SLACK_BOT_TOKEN": "nonsenseSECRET"}, "SLACK_BOT_TOKEN", "does not start with xoxb-"),
        ({**TOKENS, "SLACK_BOT_TOKEN": "xoxb-abc SECRET"}, "SLACK_BOT_TOKEN", "is not a valid token"),
        ({**TOKENS, "SLACK_API_URL": "ftp://example.com/api"}, "SLACK_API_URL", "http(s) URL"),
        ({**TOKENS, "SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL", "http(s) URL"),
        ({**TOKENS, "SLACK_API_URL": "https://slack.com/api?x=1"}, "SLACK_API_URL", "query"),
        ({**TOKENS, "REDIS_URL": "http://localhost:6379"}, "REDIS_URL", "redis://, rediss:// or unix://"),
        ({**TOKENS, "REDIS_URL": "redis://"}, "REDIS_URL", "no host"),
        ({**TOKENS, "REDIS_URL": "redis://:SECRET@localhost:notaport"}, "REDIS_URL", "not a valid URL"),
        ({**TOKENS, "APPROVALS_CHANNEL": "#two words"}, "APPROVALS_CHANNEL", "channel ID (C... or G...)"),
        ({**TOKENS, "APPROVERS": "U0ALICE123,bob"}, "APPROVERS", "'bob', which is neither a Slack member ID"),
        ({**TOKENS, "APPROVERS": "C0CHANNEL1"}, "APPROVERS", "nor a user group ID"),
        ({**TOKENS, "MENTION_APPROVERS": "maybe"}, "MENTION_APPROVERS", "true or false"),
        ({**TOKENS, "RETENTION": "0"}, "RETENTION", "positive number of seconds"),
        ({**TOKENS, "AUDIT_RETENTION": "x"}, "AUDIT_RETENTION", "positive number of seconds"),
        ({**TOKENS, "APPROVAL_TIMEOUT": "0"}, "APPROVAL_TIMEOUT", "positive number of seconds"),
        ({**TOKENS, "APPROVAL_TIMEOUT": "-5"}, "APPROVAL_TIMEOUT", "positive number of seconds"),
        ({**TOKENS, "APPROVAL_TIMEOUT": "soon"}, "APPROVAL_TIMEOUT", "positive number of seconds"),
        ({**TOKENS, "APPROVAL_TIMEOUT": "inf"}, "APPROVAL_TIMEOUT", "positive number of seconds"),
        ({**TOKENS, "APPROVAL_TIMEOUT": "nan"}, "APPROVAL_TIMEOUT", "positive number of seconds"),
        ({**TOKENS, "CODE_TIMEOUT": "0"}, "CODE_TIMEOUT", "positive number of seconds"),
        ({**TOKENS, "SELF_APPROVAL": "no"}, "SELF_APPROVAL", "must be allow or deny"),
        ({**TOKENS, "MAX_REVISIONS": "-1"}, "MAX_REVISIONS", "must be 0 or more"),
        ({**TOKENS, "ASK_AGAIN_WINDOW": "-1"}, "ASK_AGAIN_WINDOW", "0 (off) or a positive number"),
        ({**TOKENS, "STANDING_TIMEBOX": "soon"}, "STANDING_TIMEBOX", "number of seconds"),
        ({**TOKENS, "HEALTH_PORT": "70000"}, "HEALTH_PORT", "between 0 and 65535"),
        ({**TOKENS, "LOG_FORMAT": "xml"}, "LOG_FORMAT", "text or json"),
        ({**TOKENS, "MAX_REVISIONS": "many"}, "MAX_REVISIONS", "whole number"),
        ({**TOKENS, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_each_error_names_its_variable(environ: dict[str, str], variable: str, words: str) -> None:
    error = error_for(environ)
    message = str(error)
    assert isinstance(error, ValueError)
    assert error.variable == variable
    assert message.startswith(variable + " ")
    assert words in message
    assert "\n" not in message
    assert "SECRET" not in message


def test_missing_bot_token_message_in_full() -> None:
    assert str(error_for({"SLACK_APP_TOKEN": APP})) == (
        "SLACK_BOT_TOKEN is missing: set it to the bot token (xoxb-...) from your Slack app's OAuth & Permissions page"
    )


def test_bad_token_checked_even_when_not_required() -> None:
    assert error_for({"SLACK_BOT_TOKEN": "junkSECRET"}, require_slack=False).variable == "SLACK_BOT_TOKEN"


def test_secret_hides_its_value() -> None:
    secret = Secret(BOT)
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "**********"
    assert f"{secret}" == "**********"
    assert secret.get() == BOT


def test_settings_repr_hides_tokens_and_redis_password() -> None:
    settings = load_settings({**TOKENS, "OPENAI_API_KEY": "sk-SECRET", "REDIS_URL": "redis://u:SECRET@db:6379/1"})
    text = repr(settings)
    assert "SECRET" not in text
    assert "redis://u:**********@db:6379/1" in text
    assert settings.redis_url == "redis://u:SECRET@db:6379/1"


def test_redact_url() -> None:
    assert redact_url("redis://:SECRET@localhost:6379/0") == "redis://:**********@localhost:6379/0"
    assert redact_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_settings_defaults_match_load_settings() -> None:
    assert load_settings({}, require_slack=False) == Settings()


def test_load_dotenv_file_real_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("LOG_LEVEL=DEBUG\nAPPROVERS=U0ALICE123\nBARE_KEY\n")
    merged = load_dotenv_file(dotenv, {"LOG_LEVEL": "ERROR"})
    assert merged == {"LOG_LEVEL": "ERROR", "APPROVERS": "U0ALICE123"}
    assert load_dotenv_file(tmp_path / "absent.env", {"A": "1"}) == {"A": "1"}


def test_a_dotenv_file_others_can_read_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("SLACK_BOT_TOKEN=xoxb-not-shown\n")
    dotenv.chmod(0o644)
    load_dotenv_file(dotenv, {})
    assert "chmod 600" in caplog.text and "mode 644" in caplog.text and "xoxb" not in caplog.text
    caplog.clear()
    dotenv.chmod(0o600)
    load_dotenv_file(dotenv, {})
    assert caplog.text == ""


def test_redis_sentinels_and_service_select_sentinel() -> None:
    settings = load_settings(
        {**TOKENS, "REDIS_SENTINELS": "s1:26379, s2 ,[::1]:26380", "REDIS_SENTINEL_SERVICE": "mymaster"}
    )
    assert settings.redis_topology == "sentinel"
    assert settings.redis_sentinels == (("s1", 26379), ("s2", 26379), ("::1", 26380))
    assert settings.redis_sentinel_service == "mymaster"
    assert settings.redis_where == "Sentinel service mymaster via s1:26379,s2:26379,[::1]:26380"


def test_redis_cluster_nodes_select_cluster_and_the_url_lends_credentials_only() -> None:
    settings = load_settings(
        {**TOKENS, "REDIS_CLUSTER_NODES": "n1:7000,n2:7001", "REDIS_URL": "redis://bot:SECRET@ignored:1/0"}
    )
    assert settings.redis_topology == "cluster"
    assert settings.redis_cluster_nodes == (("n1", 7000), ("n2", 7001))
    assert "SECRET" not in settings.redis_where and "SECRET" not in repr(settings)
    assert load_settings(TOKENS).redis_topology == "server"


@pytest.mark.parametrize(
    ("environ", "variable", "words"),
    [
        ({"REDIS_SENTINELS": "s1:26379", "REDIS_CLUSTER_NODES": "n1:7000", "REDIS_SENTINEL_SERVICE": "m"},
         "REDIS_CLUSTER_NODES", "only one"),
        ({"REDIS_SENTINELS": "s1:26379"}, "REDIS_SENTINEL_SERVICE", "is missing"),
        ({"REDIS_SENTINEL_SERVICE": "mymaster"}, "REDIS_SENTINELS", "is missing"),
        ({"REDIS_SENTINELS": "s1:notaport", "REDIS_SENTINEL_SERVICE": "m"}, "REDIS_SENTINELS", "port"),
        ({"REDIS_SENTINELS": "s1:70000", "REDIS_SENTINEL_SERVICE": "m"}, "REDIS_SENTINELS", "1 to 65535"),
        ({"REDIS_SENTINELS": " , ", "REDIS_SENTINEL_SERVICE": "m"}, "REDIS_SENTINELS", "no address"),
        ({"REDIS_CLUSTER_NODES": "redis://n1:7000"}, "REDIS_CLUSTER_NODES", "host:port"),
        ({"REDIS_SENTINELS": "s1", "REDIS_SENTINEL_SERVICE": "my master"}, "REDIS_SENTINEL_SERVICE", "master name"),
        ({"REDIS_CLUSTER_NODES": "n1:7000", "REDIS_URL": "redis://:SECRET@h/2"}, "REDIS_URL", "database"),
        ({"REDIS_CLUSTER_NODES": "n1:7000", "REDIS_URL": "unix:///tmp/r.sock"}, "REDIS_URL", "unix://"),
    ],
)  # fmt: skip
def test_bad_redis_topology_names_the_variable_in_one_line(environ: dict[str, str], variable: str, words: str) -> None:
    error = error_for({**TOKENS, **environ})
    assert error.variable == variable
    assert str(error).startswith(variable) and words in str(error)
    assert "\n" not in str(error) and "SECRET" not in str(error)


def test_audit_hmac_key_is_a_secret_of_at_least_32_characters() -> None:
    key = "0123456789abcdef" * 2
    settings = load_settings({**TOKENS, "AUDIT_HMAC_KEY": f" {key} "})
    assert settings.audit_hmac_key is not None and settings.audit_hmac_key.get() == key
    assert key not in repr(settings) and load_settings(TOKENS).audit_hmac_key is None
    for bad in (key[:-1], key[:16] + " " + key[16:]):
        with pytest.raises(ConfigError) as caught:
            load_settings({**TOKENS, "AUDIT_HMAC_KEY": bad})
        assert caught.value.variable == "AUDIT_HMAC_KEY" and key[:16] not in str(caught.value)


SIGNING = "8f14e45fceea167a5a36dedd4bea2543SECRET"


def test_http_mode_needs_the_signing_secret_and_no_app_token() -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": BOT, "HTTP_PORT": "3000", "SLACK_SIGNING_SECRET": SIGNING})
    assert (settings.http_port, settings.http_host, settings.slack_app_token) == (3000, "0.0.0.0", None)
    assert settings.slack_signing_secret is not None and settings.slack_signing_secret.get() == SIGNING
    assert "SECRET" not in repr(settings)

    missing = error_for({"SLACK_BOT_TOKEN": BOT, "HTTP_PORT": "3000"})
    assert missing.variable == "SLACK_SIGNING_SECRET" and "Signing Secret" in str(missing)
    assert error_for({"SLACK_BOT_TOKEN": BOT}).variable == "SLACK_APP_TOKEN"  # Socket Mode still needs it
    assert load_settings({"HTTP_PORT": "3000"}, require_slack=False).slack_signing_secret is None


def test_http_port_and_host() -> None:
    environ = TOKENS | {"HTTP_PORT": "8443", "HTTP_HOST": " 127.0.0.1 ", "SLACK_SIGNING_SECRET": SIGNING}
    settings = load_settings(environ)
    assert (settings.http_port, settings.http_host) == (8443, "127.0.0.1")
    assert load_settings(TOKENS).http_port is None
    assert error_for(TOKENS | {"HTTP_PORT": "http"}).variable == "HTTP_PORT"
    assert error_for(TOKENS | {"HTTP_PORT": "70000"}).variable == "HTTP_PORT"
