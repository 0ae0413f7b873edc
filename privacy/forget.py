"""The name of the action whose turn deletes a conversation, shared by the action server
(actions/privacy.py) and the conversation store (conversation_store/tracker_store.py).

The action server cannot reach the conversation store, so the action itself changes
nothing: the store, saving the turn, sees that the action ran and deletes every row kept
for the conversation, that turn included."""

FORGET_ACTION = "action_forget_conversation"
