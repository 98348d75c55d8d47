"""REMIND_AFTER, ESCALATE_AFTER and ESCALATE_TO: validated at start, one line naming the variable."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings


def error_for(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ, require_slack=False)
    return caught.value


def test_off_by_default() -> None:
    settings = load_settings({}, require_slack=False)
    assert (settings.remind_after, settings.escalate_after, settings.escalate_to) == (None, None, None)


@pytest.mark.parametrize("target", ["C0ONCALL1", "G0PRIVATE", "U0BOSS123", "W0GRIDUSER", "S0ONCALLS"])
def test_escalation_to_a_channel_a_person_or_a_group(target: str) -> None:
    settings = load_settings(
        {"REMIND_AFTER": "60", "ESCALATE_AFTER": "120.5", "ESCALATE_TO": f" {target} "}, require_slack=False
    )
    assert (settings.remind_after, settings.escalate_after, settings.escalate_to) == (60.0, 120.5, target)


def test_a_reminder_alone_and_an_escalation_alone() -> None:
    assert load_settings({"REMIND_AFTER": "5"}, require_slack=False).remind_after == 5.0
    alone = load_settings({"ESCALATE_AFTER": "5", "ESCALATE_TO": "C0ONCALL1"}, require_slack=False)
    assert (alone.remind_after, alone.escalate_after) == (None, 5.0)


@pytest.mark.parametrize(
    ("environ", "variable", "says"),
    [
        ({"REMIND_AFTER": "0"}, "REMIND_AFTER", "positive number of seconds"),
        ({"REMIND_AFTER": "soon"}, "REMIND_AFTER", "positive number of seconds"),
        ({"ESCALATE_AFTER": "-1", "ESCALATE_TO": "C0ONCALL1"}, "ESCALATE_AFTER", "positive number"),
        ({"ESCALATE_AFTER": "60"}, "ESCALATE_TO", "is missing"),
        ({"ESCALATE_TO": "C0ONCALL1"}, "ESCALATE_AFTER", "is missing"),
        ({"ESCALATE_AFTER": "60", "ESCALATE_TO": "#oncall"}, "ESCALATE_TO", "not a channel ID"),
        ({"ESCALATE_AFTER": "60", "ESCALATE_TO": "D0DIRECT1"}, "ESCALATE_TO", "not a channel ID"),
        ({"REMIND_AFTER": "60", "ESCALATE_AFTER": "60", "ESCALATE_TO": "U0BOSS123"}, "ESCALATE_AFTER", "more than"),
    ],
)
def test_bad_values_name_their_variable_in_one_line(environ: dict[str, str], variable: str, says: str) -> None:
    error = error_for(environ)
    assert error.variable == variable and says in str(error) and "\n" not in str(error)
    assert str(error).startswith(variable)
