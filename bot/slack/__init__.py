"""The Slack surface: the only code importing slack_bolt / slack_sdk."""
