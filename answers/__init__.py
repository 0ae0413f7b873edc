"""Answer selection: which knowledge entries answer a message.

- answers/text.py: how a message is turned into ranker words (spelling fixed, lexicon
  words replaced by their ids, stop words dropped, stems).
- answers/ranker.py: the entry ranker, trained from each entry's own `questions:`.
- answers/select.py: the decision for one turn (answer, several parts, or a clarifying
  question) from the ranking and the conversation's context.
"""
