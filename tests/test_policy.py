"""The risk policy: first match wins, decoded arguments are searched, bad files are one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.approvals.models import Terms
from bot.approvals.policy import (
    SELECT,
    Action,
    PolicyError,
    Request,
    load_policy,
    parse_policy,
)
from bot.rulings import ruling_for, shown_text, terms_for
from workflows.ops_db import READS
from workflows.types import Ask

RULES = r"""
rules:
  - name: reads
    tool: "find_*"
    action: auto
  - name: sql-ddl
    tool: run_sql
    pattern: '(?i)\b(drop|truncate|alter)\b'
    action: deny
  - name: deletes
    tool: "delete_*"
    action: ask_two
    risk: high
    self_approval: deny
  - name: announcements
    kind: draft
    pattern: '(?i)all-hands'
    action: ask_two
"""


def tool(name: str, **args: object) -> Request:
    return Request("tool", tool=name, args=args)


def test_first_match_wins_and_no_match_means_ask() -> None:
    policy = parse_policy(RULES)
    assert policy.rule_for(tool("find_customers", status="inactive")).action is Action.AUTO
    ruling = policy.rule_for(tool("delete_customers", ids=[3, 4]))
    assert (ruling.rule, ruling.action, ruling.risk, ruling.self_approval) == ("deletes", Action.ASK_TWO, "high", False)
    assert policy.rule_for(tool("send_email", to="a@example.com")).rule == "default"
    assert policy.rule_for(tool("send_email", to="a@example.com")).action is Action.ASK


def test_a_pattern_is_searched_in_decoded_strings_so_a_newline_cannot_hide_a_drop() -> None:
    policy = parse_policy(RULES)
    sneaky = tool("run_sql", query="SELECT 1;\nDROP TABLE customers")
    assert policy.rule_for(sneaky).action is Action.DENY  # in JSON text it reads "1;\\nDROP": no \b before DROP
    nested = tool("run_sql", query="SELECT 1", options={"then": ["truncate customers"]})
    assert policy.rule_for(nested).rule == "sql-ddl"


def test_kind_limits_a_rule_to_one_kind_of_request() -> None:
    policy = parse_policy(RULES)
    assert policy.rule_for(Request("draft", text="Invite to the all-hands")).action is Action.ASK_TWO
    assert policy.rule_for(Request("plan", text="Invite to the all-hands")).action is Action.ASK


def test_the_built_in_default_denies_ddl_and_several_statements_and_runs_reads() -> None:
    policy = load_policy(None)
    assert policy.rule_for(tool("run_sql", query="DROP TABLE customers")).action is Action.DENY
    assert policy.rule_for(tool("run_sql", query="SELECT 1; DELETE FROM customers")).action is Action.DENY
    assert policy.rule_for(tool("run_sql", query="  select * from customers;")).action is Action.AUTO
    assert policy.rule_for(tool("run_sql", query="DELETE FROM customers WHERE id = 3")).action is Action.ASK
    assert policy.rule_for(tool("find_customers")).action is Action.AUTO
    assert policy.rule_for(tool("send_email", to="a@example.com")).action is Action.ASK
    assert policy.rule_for(Request("draft", text="Hello")).action is Action.ASK
    select = next(r for r in policy.rules if r.name == "sql-select").pattern
    assert select is not None and select.pattern == SELECT == READS.pattern  # what ops runs read-only


def test_the_digest_changes_with_the_rules_and_only_with_them() -> None:
    assert parse_policy(RULES).digest == parse_policy(RULES + "\n# a comment\n").digest
    assert parse_policy(RULES).digest != parse_policy(RULES.replace("ask_two", "ask", 1)).digest


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "is not valid YAML"),
        ("rule: []", "must be a mapping with a list under 'rules'"),
        ("rules:\n  - tool: x\n    action: auto", "rule 1: 'name' is required"),
        ("rules:\n  - name: a\n    action: maybe", "rule 1 (a): 'action' must be one of auto, ask, ask_two, deny"),
        ("rules:\n  - name: a\n    action: ask\n    kind: email", "rule 1 (a): 'kind' must be one of"),
        ("rules:\n  - name: a\n    action: ask\n    pattern: '(unclosed'", "rule 1 (a): 'pattern' is not a valid"),
        ("rules:\n  - name: a\n    action: ask\n    colour: red", "rule 1 (a): unknown field 'colour'"),
        ("rules:\n  - name: a\n    action: ask\n  - name: a\n    action: deny", "two rules are named 'a'"),
        ("rules:\n  - name: a\n    action: ask\n    self_approval: maybe", "'self_approval' must be allow or deny"),
        ("rules:\n  - name: reads, writes\n    action: auto", "'name' may not contain a comma"),
        ("rules:\n  - name: a\n    action: ask\n    shadow: true", "rule 1 (a): 'shadow' needs action auto or deny"),
        ("rules:\n  - name: a\n    action: ask_two\n    shadow: true", "rule 1 (a): 'shadow' needs action auto"),
        ("rules:\n  - name: a\n    action: auto\n    shadow: 'yes please'", "rule 1 (a): 'shadow' must be true or"),
    ],
)
def test_a_bad_policy_is_one_line_naming_the_rule_and_the_field(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(text)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert message in str(raised.value) and str(raised.value).startswith(f"POLICY_FILE {path}")
    assert "\n" not in str(raised.value)


def test_an_unreadable_policy_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "missing.yml")


def test_a_final_semicolon_or_newline_is_one_statement() -> None:
    policy = load_policy(None)
    assert policy.rule_for(tool("run_sql", query="SELECT * FROM customers;\n")).rule == "sql-select"
    assert policy.rule_for(tool("run_sql", query="UPDATE customers SET status = 'x';\nDELETE FROM outbox")).action is (
        Action.DENY
    )


SHADOW = """
rules:
  - name: reads
    tool: "find_*"
    action: auto
    shadow: true
  - name: wipes
    tool: "delete_*"
    action: deny
    risk: high
    shadow: true
  - name: sends
    tool: "send_*"
    action: auto
    shadow: false
"""


def test_a_shadow_rule_asks_a_person_and_keeps_what_it_would_have_done() -> None:
    policy = parse_policy(SHADOW)
    reads, wipes = policy.rule_for(tool("find_customers")), policy.rule_for(tool("delete_customers"))
    assert (reads.rule, reads.action, reads.shadow) == ("reads", Action.ASK, "auto")
    assert (wipes.rule, wipes.action, wipes.shadow, wipes.risk) == ("wipes", Action.ASK, "deny", "high")
    assert (policy.rule_for(tool("send_email")).action, policy.rule_for(tool("send_email")).shadow) == (Action.AUTO, "")
    assert policy.digest != parse_policy(SHADOW.replace("shadow: true", "shadow: false", 1)).digest


def test_a_shadow_ruling_is_asked_says_so_on_the_card_and_is_kept_in_the_terms() -> None:
    policy = parse_policy(SHADOW)
    reads = Ask("tool", "Find inactive customers", tool="find_customers", args={"status": "inactive"})
    ruling = ruling_for(policy, reads)
    assert (ruling.action, ruling.shadow) == (Action.ASK, "auto")
    assert shown_text(reads, ruling).endswith(
        "_Policy rule `reads`: needs one approver (shadow: the rule would have approved this without asking)._"
    )
    assert terms_for(reads, ruling, self_approval=True) == Terms(
        kind="tool", tool="find_customers", args='{"status":"inactive"}', rule="reads", shadow="auto"
    )
    wipes = Ask("tool", "Delete customer 3", tool="delete_customers", args={"ids": [3]})
    assert "(shadow: the rule would have refused this)" in shown_text(wipes, ruling_for(policy, wipes))
    plain = ruling_for(policy, Ask("tool", "Send it", tool="send_email"))
    assert "shadow" not in shown_text(Ask("tool", "Send it", tool="send_email"), plain)
