"""slack-approval-bot: the Slack approval gate for AI agents."""
