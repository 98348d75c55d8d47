"""A local Slack: the Web API and Socket Mode, spoken for real, for tests and the offline demo."""

from bot.sandbox.clock import Clock
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.modals import ModalView
from bot.sandbox.records import Activity, Call, Envelope, Failure
from bot.sandbox.triggers import Trigger
from bot.sandbox.workspace import Message

__all__ = ["Activity", "Call", "Clock", "Envelope", "Failure", "Message", "ModalView", "SlackEmulator", "Trigger"]
