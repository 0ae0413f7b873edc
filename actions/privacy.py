"""Deletion on request: "delete my conversation", "forget what I said" (docs/privacy.md).

The rule (data/rules/privacy.yml) runs this action, then the confirmation. Deleting is the
conversation store's part (conversation_store/tracker_store.py): when it saves a turn in
which this action ran, it removes the conversation's rows and forgets its kept tracker, so
the next message starts afresh. Importing this module also redacts the action server's logs.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from privacy import logs
from privacy.forget import FORGET_ACTION

logs.install()


class ActionForgetConversation(Action):
    def name(self) -> Text:
        return FORGET_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        return []  # the store deletes on save; the rule's next step confirms it
