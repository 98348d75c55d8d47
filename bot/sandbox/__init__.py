"""A local Slack: the Web API and Socket Mode, spoken for real, for tests and the offline demo."""

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.records import Activity, Call, Envelope
from bot.sandbox.workspace import Message

__all__ = ["Activity", "Call", "Envelope", "Message", "SlackEmulator"]
