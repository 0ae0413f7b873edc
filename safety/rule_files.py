"""The triage rule files (safety/rules/*.yml): load and validate them.

    words.yml     word classes (CAPS names usable in patterns) and the engine's word lists
    concepts.yml  concepts: what to look for, as token patterns; the engine's cue words
    kinds.yml     kind rules: which live concepts together make which emergency

Clinicians change these files, not Python; docs/triage-rules.md explains how. Every
problem is reported as `path:line: message` (the knowledge base's style, see
knowledge/schema.py) and all problems are collected before failing. This module does not
import spaCy, so `python -m safety.rules_check` is quick; safety/red_flags.py applies
the rules.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union


from knowledge.schema import LineDict, LineList, Problem, ValidationError, _display, _load_yaml
from knowledge.topics import RED_FLAG_KINDS

RULES_DIR = Path(__file__).resolve().parent / "rules"
WORDS_FILE, CONCEPTS_FILE, KINDS_FILE = "words.yml", "concepts.yml", "kinds.yml"
PathLike = Union[str, Path]

# Names the engine (safety/red_flags.py) relies on: each must be defined in the files.
REQUIRED_CLASSES = ("BACLOFEN", "MED", "CONTAINER", "TAKE_PAST", "UNCERTAIN", "PERSONAL")
ENGINE_LISTS = ("QUESTION_START", "NEGATORS", "CLAUSE_ENDS", "NEGATION_BREAKS", "WH_WORDS",
                "FUTURE_START", "ONGOING_AFTER_NEGATOR", "FACT_START")
CUES = ("CUE_IF", "CUE_WHEN", "CUE_CAUSE", "CUE_CLAUSE", "CUE_PAST", "CUE_CARE", "CUE_PENDING",
        "CUE_RESOLVED")

# The Python checks a concept can name as `validator:` (implemented in safety/red_flags.py),
# with the limits each takes: "number" (e.g. at_least: 5) or "range" (e.g. celsius: [38, 45]).
VALIDATOR_LIMITS: Dict[str, Dict[str, str]] = {
    "took_count": {"at_least": "number"},
    "took_mg": {"more_than_mg": "number"},
    "instead_of": {},
    "fever_num": {"celsius": "range", "fahrenheit": "range"},
    "child_age": {"under_years": "number"},
    "child_ingest": {},
    "past_cue": {},
    "count_at_least": {"at_least": "number"},
}

# Pattern tokens that stand for a kind of word rather than a word.
TEMP_REGEX = r"^\d{2,3}(\.\d+)?(c|f|°c|°f|°)?$"
CHILDAGE_REGEX = r"^(1[0-7]|[0-9])(yo|y\.o|yr|yrs|yro)$"
SPECIAL_TOKENS = ("NUM", "TEMPNUM", "CHILDAGE")

REVIEW_FIELDS = ("reviewer", "reviewed")
CONCEPT_FIELDS = ("name", "means", "patterns", "excludes", "validator", "sign", "even_if_hypothetical",
                  "background")
CUE_FIELDS = ("name", "means", "patterns", "validator")
RULE_FIELDS = ("kind", "means", "all", "same_sentence", "ordered", "unless_fired", "unless_mentioned",
               "only_if_nothing_else", "source", "reviewer", "reviewed")
RULE_REQUIRED = ("kind", "means", "all", "source", "reviewer", "reviewed")
SOURCE_FIELDS = ("section", "tags")

_CAPS = re.compile(r"^[A-Z][A-Z0-9_]*$")
# spaCy always splits a word at an inner hyphen or slash ("non-stop" -> non - stop).
_SPLIT_WORD = re.compile(r"[a-z0-9][-/][a-z0-9]")


# ------------------------------------------------------------------ what is loaded


@dataclass(frozen=True)
class Concept:
    name: str
    means: str
    patterns: Tuple[str, ...]
    excludes: Tuple[str, ...] = ()
    validator: Optional[str] = None
    limits: Mapping[str, Any] = field(default_factory=dict)
    sign: bool = False
    even_if_hypothetical: bool = False
    background: bool = False  # a standing fact ("has a pump"): the distant past does not make it history
    where: str = ""  # path:line


@dataclass(frozen=True)
class KindRule:
    kind: str
    means: str
    terms: Tuple[FrozenSet[str], ...]  # each term: one hit from any of these concepts
    same_sentence: bool
    ordered: bool
    unless_fired: Tuple[str, ...]
    unless_mentioned: Tuple[str, ...]
    only_if_nothing_else: bool
    source: Mapping[str, Any]
    reviewer: str
    reviewed: dt.date
    where: str  # path:line


@dataclass(frozen=True)
class Rules:
    directory: Path
    classes: Dict[str, Tuple[str, ...]]   # word classes, includes expanded
    lists: Dict[str, FrozenSet[str]]      # the engine's word lists
    numbers: Dict[str, float]             # number words and their values
    spelling: Tuple[str, ...]             # words the spelling step corrects towards
    concepts: Dict[str, Concept]          # in file order
    cues: Dict[str, Concept]
    groups: Dict[str, Tuple[str, ...]]
    rules: Tuple[KindRule, ...]           # in file order
    unused: Tuple[str, ...] = ()          # concepts no rule uses (notes, not errors)
    # Questions about a kind ("what should I watch for with the pump?"): never an emergency,
    # they add the kind's warning signs and when to get help (RedFlagDetector.conditional).
    watch_for: Tuple[KindRule, ...] = ()

    @property
    def priority(self) -> Tuple[str, ...]:
        """Kinds in the order their rules appear: the report order."""
        return tuple(dict.fromkeys(rule.kind for rule in self.rules))

    def patterns(self) -> Dict[str, List[str]]:
        """Matcher patterns by match name: concepts, cues, then EXCLUDE_<concept>."""
        found: Dict[str, List[str]] = {name: list(c.patterns) for name, c in self.concepts.items()}
        found.update({name: list(c.patterns) for name, c in self.cues.items()})
        found.update({f"EXCLUDE_{name}": list(c.excludes) for name, c in self.concepts.items() if c.excludes})
        return found

    def validators(self) -> Dict[str, Tuple[str, Mapping[str, Any]]]:
        """Match name -> (validator name, limits) for concepts and cues that have one."""
        return {c.name: (c.validator, c.limits) for c in (*self.concepts.values(), *self.cues.values())
                if c.validator}


class RuleFileError(ValidationError):
    """Raised with every problem found in the rule files; `errors` lists the Problems."""


# ------------------------------------------------------------------ patterns


def _token_spec(part: str, words_by_class: Mapping[str, Sequence[str]]) -> dict:
    optional = part.endswith("?") and len(part) > 1
    part = part[:-1] if optional else part
    if part == "*":
        return {"OP": "?"}
    if part == "NUM":
        spec: dict = {"LIKE_NUM": True}
    elif part == "TEMPNUM":
        spec = {"NORM": {"REGEX": TEMP_REGEX}}
    elif part == "CHILDAGE":
        spec = {"NORM": {"REGEX": CHILDAGE_REGEX}}
    else:
        words: List[str] = []
        for alternative in part.split("|"):
            if alternative.isupper() and alternative not in words_by_class:
                raise ValueError(f"unknown word class {alternative!r} in pattern part {part!r}")
            words.extend(words_by_class.get(alternative, (alternative,)))
        spec = {"NORM": {"IN": words}}
    if optional:
        spec["OP"] = "?"
    return spec


def compile_pattern(text: str, words_by_class: Mapping[str, Sequence[str]]) -> List[dict]:
    """Turn one line of the pattern language into a spaCy Matcher pattern."""
    return [_token_spec(part, words_by_class) for part in text.split()]


def pattern_problems(text: Any, classes: Iterable[str]) -> List[str]:
    """What is wrong with one pattern (empty when nothing is)."""
    if not isinstance(text, str) or not text.strip():
        return ["a pattern must be a non-empty text in double quotes"]
    known = set(classes)
    messages: List[str] = []
    required = 0
    for part in text.split():
        if "|" in part and ("||" in part or part.startswith("|") or part.rstrip("?").endswith("|")):
            messages.append(
                f"'{part}' in \"{text}\": '|' joins single words, with no spaces around it ('a|b'); "
                "an alternative of several words ('stiff neck' or 'neck stiffness') is two patterns")
            continue
        optional = part.endswith("?") and len(part) > 1
        body = part[:-1] if optional else part
        required += not optional and body != "*"
        alternatives = body.split("|")
        for alternative in alternatives:
            if alternative in SPECIAL_TOKENS:
                if len(alternatives) > 1:
                    messages.append(f"'{part}': {alternative} stands alone, not inside a|b")
            elif alternative == "*":
                if len(alternatives) > 1:
                    messages.append(f"'{part}': '*' (any one word) stands alone, not inside a|b")
            elif "?" in alternative or "*" in alternative:
                messages.append(f"'{part}': '?' goes once at the end of a part ('a|b?'), and '*' stands alone")
            elif _CAPS.match(alternative) or alternative.isupper():
                if alternative not in known:
                    messages.append(f"unknown word class {alternative} in '{part}' (word classes are in {WORDS_FILE})")
            elif alternative != alternative.lower():
                messages.append(f"'{alternative}': write words in lower case (matching ignores case)")
            elif _SPLIT_WORD.search(alternative):
                messages.append(
                    f"'{alternative}' is several words to spaCy (it splits at '-' and '/'), so it never "
                    f"matches one word: write it as its own pattern, e.g. \"{_spaced(alternative)}\"")
    if not messages and not required:
        messages.append("a pattern needs at least one word that is not optional")
    return messages


def _spaced(word: str) -> str:
    return re.sub(r"([-/])", r" \1? ", word).replace("  ", " ")


def _line(value: Any) -> int:
    return getattr(value, "line", 0)


class _File:
    """One rule file: its shown path and a problem collector."""

    def __init__(self, path: Path, problems: List[Problem]) -> None:
        self.path = path
        self.shown = _display(path)
        self.problems = problems
        self.data: Any = None
        self.ok = False  # parsed (possibly to nothing) without a YAML error
        if not path.is_file():
            problems.append(Problem(self.shown, 0, "rule file not found"))
            return
        before = len(problems)
        self.data = _load_yaml(path, problems)
        self.ok = self.data is not None or len(problems) == before

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.shown, line, message))

    def where(self, line: int) -> str:
        return f"{self.shown}:{line}"

    def mapping(self, value: Any, line: int, label: str) -> bool:
        if not isinstance(value, dict):
            self.problem(_line(value) or line, f"{label} must be a mapping (key: value lines)")
            return False
        return True

    def fields(self, item: LineDict, allowed: Sequence[str], required: Sequence[str], label: str) -> None:
        for key in item:
            if key not in allowed:
                self.problem(item.line_of(key), f"{label}: unknown field '{key}' (fields: {', '.join(allowed)})")
        for key in required:
            if key not in item:
                self.problem(item.line, f"{label}: missing '{key}'")

    def text(self, item: LineDict, key: str, label: str) -> str:
        value = item.get(key)
        if key in item and (not isinstance(value, str) or not value.strip()):
            self.problem(item.line_of(key), f"{label}: {key} must be a non-empty text")
            return ""
        return value if isinstance(value, str) else ""

    def flag(self, item: LineDict, key: str, label: str) -> bool:
        value = item.get(key, False)
        if not isinstance(value, bool):
            self.problem(item.line_of(key), f"{label}: {key} must be true or false")
            return False
        return value

    def review(self, item: LineDict, label: str) -> Tuple[str, Optional[dt.date]]:
        """reviewer (non-empty text) and reviewed (a real date), both required."""
        reviewer = self.text(item, "reviewer", label)
        value = item.get("reviewed")
        reviewed: Optional[dt.date] = None
        if isinstance(value, dt.datetime):
            reviewed = value.date()
        elif isinstance(value, dt.date):
            reviewed = value
        elif "reviewed" in item:
            try:
                reviewed = dt.date.fromisoformat(str(value))
            except ValueError:
                self.problem(item.line_of("reviewed"), f"{label}: reviewed must be a date like 2026-12-01, not {value!r}")
        return reviewer, reviewed


def _string_list(file: _File, value: Any, line: int, label: str) -> List[Tuple[int, Any]]:
    """(line, item) pairs of a non-empty list, or [] with a problem."""
    if not isinstance(value, list) or not value:
        file.problem(_line(value) or line, f"{label} must be a non-empty list")
        return []
    lines = value.item_lines if isinstance(value, LineList) else []
    return [(lines[i] if i < len(lines) else line, item) for i, item in enumerate(value)]


# ------------------------------------------------------------------ words.yml


def _word_problem(word: Any) -> Optional[str]:
    if isinstance(word, bool):
        return (f"a word was read as {str(word).lower()} (YAML reads no/yes/on/off that way): "
                "put it in quotes, e.g. \"no\"")
    if not isinstance(word, str):
        return f"{word!r} is not a word: put it in quotes (YAML reads numbers as values), e.g. \"911\""
    if not word or word != word.strip() or " " in word or "\t" in word:
        return f"'{word}' is not one word: a class lists single words (write phrases as patterns in {CONCEPTS_FILE})"
    if _CAPS.match(word):
        return None
    if word != word.lower():
        return f"'{word}': write words in lower case (matching ignores case)"
    if _SPLIT_WORD.search(word):
        return f"'{word}' is several words to spaCy (it splits at '-' and '/'), so it never matches one word"
    return None


def _words_section(file: _File, section: Any, line: int, name: str,
                   include_from: Callable[[str], Optional[List[str]]], own: bool) -> Dict[str, Tuple[int, List[Any]]]:
    """NAME: {means, words} entries of one section, unexpanded: name -> (line, words)."""
    found: Dict[str, Tuple[int, List[Any]]] = {}
    if not file.mapping(section, line, name):
        return found
    for key, entry in section.items():
        key_line = section.line_of(key)
        label = f"{name} {key}"
        if not isinstance(key, str) or not _CAPS.match(key):
            file.problem(key_line, f"{name}: name {key!r} must be CAPS, e.g. TAKE_PAST")
            continue
        if not file.mapping(entry, key_line, label):
            continue
        file.fields(entry, ("means", "words"), ("means", "words"), label)
        file.text(entry, "means", label)
        words = []
        for item_line, word in _string_list(file, entry.get("words"), entry.line_of("words"), f"{label}: words"):
            message = _word_problem(word)
            if message:
                file.problem(item_line, f"{label}: {message}")
                continue
            if _CAPS.match(word) and not (own and word in section) and include_from(word) is None:
                file.problem(item_line, f"{label}: unknown word class {word}")
                continue
            words.append((item_line, word))
        found[key] = (key_line, words)
    return found


def _expand(file: _File, name: str, table: Dict[str, Tuple[int, List[Tuple[int, str]]]],
            outside: Mapping[str, Sequence[str]], done: Dict[str, Tuple[str, ...]],
            stack: Tuple[str, ...] = ()) -> Tuple[str, ...]:
    """A list's words with CAPS entries replaced by the words of that class."""
    if name in done:
        return done[name]
    if name in stack:
        file.problem(table[name][0], f"word class {name} includes itself ({' -> '.join(stack + (name,))})")
        return ()
    words: List[str] = []
    for _, word in table[name][1]:
        if _CAPS.match(word):
            words.extend(_expand(file, word, table, outside, done, stack + (name,)) if word in table
                         else outside.get(word, ()))
        else:
            words.append(word)
    done[name] = tuple(words)
    return done[name]


def _load_words(file: _File) -> Tuple[Dict[str, Tuple[str, ...]], Dict[str, FrozenSet[str]], Dict[str, float], Tuple[str, ...]]:
    data = file.data
    if not file.mapping(data, 1, WORDS_FILE):
        return {}, {}, {}, ()
    file.fields(data, ("review", "classes", "engine", "numbers", "spelling"),
                ("review", "classes", "engine", "numbers", "spelling"), WORDS_FILE)
    _file_review(file, data)

    class_table = _words_section(file, data.get("classes", LineDict()), data.line_of("classes"), "classes",
                                 lambda w: None, own=True)
    classes: Dict[str, Tuple[str, ...]] = {}
    for name in class_table:
        _expand(file, name, class_table, {}, classes)
    classes = {name: classes[name] for name in class_table}
    for name in REQUIRED_CLASSES:
        if "classes" in data and name not in classes:
            file.problem(data.line_of("classes"), f"classes: missing {name} (the engine uses it)")

    engine_data = data.get("engine", LineDict())
    engine_table = _words_section(file, engine_data, data.line_of("engine"), "engine",
                                  lambda w: list(classes[w]) if w in classes else None, own=True)
    expanded: Dict[str, Tuple[str, ...]] = {}
    for name in engine_table:
        _expand(file, name, engine_table, classes, expanded)
    lists = {name: frozenset(expanded[name]) for name in engine_table}
    if isinstance(engine_data, dict):
        for name in ENGINE_LISTS:
            if name not in lists:
                file.problem(data.line_of("engine"), f"engine: missing {name} (the engine uses it)")
        for name in engine_data:
            if name not in ENGINE_LISTS and isinstance(name, str) and _CAPS.match(name):
                file.problem(engine_data.line_of(name),
                             f"engine: unknown list {name} (the engine reads only {', '.join(ENGINE_LISTS)})")

    numbers: Dict[str, float] = {}
    number_data = data.get("numbers")
    if "numbers" in data and file.mapping(number_data, data.line_of("numbers"), "numbers"):
        for word, value in number_data.items():
            if not isinstance(word, str) or _word_problem(word) or isinstance(value, bool) \
                    or not isinstance(value, (int, float)):
                file.problem(number_data.line_of(word), f"numbers: '{word}: {value}' must be a word and its value, e.g. twelve: 12")
            else:
                numbers[word] = value

    spelling: Tuple[str, ...] = ()
    spelling_data = data.get("spelling")
    if "spelling" in data and file.mapping(spelling_data, data.line_of("spelling"), "spelling"):
        file.fields(spelling_data, ("words",), ("words",), "spelling")
        words: List[str] = []
        for item_line, word in _string_list(file, spelling_data.get("words"), spelling_data.line, "spelling: words"):
            message = _word_problem(word)
            if message:
                file.problem(item_line, f"spelling: {message}")
            elif _CAPS.match(word):
                if word in classes:
                    words.extend(classes[word])
                else:
                    file.problem(item_line, f"spelling: unknown word class {word}")
            else:
                words.append(word)
        spelling = tuple(words)
    return classes, lists, numbers, spelling


def _file_review(file: _File, data: LineDict) -> None:
    review = data.get("review")
    if "review" in data and file.mapping(review, data.line_of("review"), "review"):
        file.fields(review, REVIEW_FIELDS, REVIEW_FIELDS, "review")
        file.review(review, "review")


# ------------------------------------------------------------------ concepts.yml


def _load_concepts(file: _File, classes: Mapping[str, Sequence[str]]) -> Tuple[Dict[str, Concept], Dict[str, Concept]]:
    data = file.data
    if not file.mapping(data, 1, CONCEPTS_FILE):
        return {}, {}
    file.fields(data, ("review", "concepts", "cues"), ("review", "concepts", "cues"), CONCEPTS_FILE)
    _file_review(file, data)
    seen: Dict[str, int] = {}
    concepts = _concept_list(file, data["concepts"], data.line_of("concepts"), "concepts",
                             CONCEPT_FIELDS, classes, seen) if "concepts" in data else {}
    cues = _concept_list(file, data["cues"], data.line_of("cues"), "cues", CUE_FIELDS, classes,
                         seen) if "cues" in data else {}
    for name, concept in cues.items():
        if name not in CUES:
            file.problem(int(concept.where.rsplit(":", 1)[1]),
                         f"cues: unknown cue {name} (the engine reads {', '.join(CUES)})")
    if "cues" in data:
        for name in CUES:
            if name not in cues:
                file.problem(data.line_of("cues"), f"cues: missing {name} (the engine uses it)")
    return concepts, {name: c for name, c in cues.items() if name in CUES}


def _concept_list(file: _File, value: Any, line: int, section: str, allowed: Sequence[str],
                  classes: Mapping[str, Sequence[str]], seen: Dict[str, int]) -> Dict[str, Concept]:
    found: Dict[str, Concept] = {}
    if not isinstance(value, list):
        file.problem(_line(value) or line, f"{section} must be a list of '- name: ...' entries")
        return found
    for index, item in enumerate(value):
        item_line = value.line_at(index) if isinstance(value, LineList) else line
        if not isinstance(item, dict):
            file.problem(item_line, f"{section}: each entry is a mapping with name, means and patterns")
            continue
        name = item.get("name")
        singular = section[:-1]  # "concept", "cue"
        label = f"{singular} {name}" if isinstance(name, str) else singular
        file.fields(item, allowed, ("name", "means", "patterns"), label)
        if "name" in item and (not isinstance(name, str) or not _CAPS.match(name) or name.startswith("EXCLUDE_")):
            file.problem(item.line_of("name"), f"{section}: name {name!r} must be CAPS (e.g. PUMP_SITE), not starting EXCLUDE_")
            continue
        if not isinstance(name, str):
            continue
        if name in seen:
            file.problem(item.line_of("name"), f"duplicate concept {name} (first at line {seen[name]})")
            continue
        seen[name] = item.line_of("name")
        means = file.text(item, "means", label)
        patterns = _patterns(file, item, "patterns", label, classes)
        excludes = _patterns(file, item, "excludes", label, classes) if "excludes" in item else ()
        validator, limits = _validator(file, item, label)
        found[name] = Concept(
            name=name, means=means, patterns=patterns, excludes=excludes, validator=validator,
            limits=limits, sign=file.flag(item, "sign", label),
            even_if_hypothetical=file.flag(item, "even_if_hypothetical", label),
            background=file.flag(item, "background", label),
            where=file.where(item.line_of("name")))
    return found


def _patterns(file: _File, item: LineDict, key: str, label: str,
              classes: Mapping[str, Sequence[str]]) -> Tuple[str, ...]:
    good: List[str] = []
    if key not in item:
        return ()
    for line, pattern in _string_list(file, item.get(key), item.line_of(key), f"{label}: {key}"):
        messages = pattern_problems(pattern, classes)
        for message in messages:
            file.problem(line, f"{label}: {message}")
        if not messages:
            good.append(pattern)
    return tuple(good)


def _validator(file: _File, item: LineDict, label: str) -> Tuple[Optional[str], Dict[str, Any]]:
    if "validator" not in item:
        return None, {}
    value = item["validator"]
    line = item.line_of("validator")
    limits: Dict[str, Any] = {}
    if isinstance(value, dict):
        name = value.get("name")
        limits = {k: v for k, v in value.items() if k != "name"}
    else:
        name = value
    if name not in VALIDATOR_LIMITS:
        file.problem(line, f"{label}: unknown validator {name!r} (known: {', '.join(VALIDATOR_LIMITS)})")
        return None, {}
    wanted = VALIDATOR_LIMITS[name]
    good = True
    for key in limits:
        if key not in wanted:
            file.problem(line, f"{label}: validator {name} takes no limit '{key}'"
                               + (f" (its limits: {', '.join(wanted)})" if wanted else ""))
            good = False
    for key, kind in wanted.items():
        limit = limits.get(key)
        if key not in limits:
            file.problem(line, f"{label}: validator {name} needs {key}: "
                               + ("a number" if kind == "number" else "[low, high]"))
            good = False
        elif kind == "number" and not _is_number(limit):
            file.problem(line, f"{label}: validator {name}: {key} must be a number, not {limit!r}")
            good = False
        elif kind == "range" and not (isinstance(limit, list) and len(limit) == 2
                                      and all(_is_number(x) for x in limit) and limit[0] <= limit[1]):
            file.problem(line, f"{label}: validator {name}: {key} must be [low, high], not {limit!r}")
            good = False
    if not good:
        return None, {}
    return name, {k: (tuple(v) if isinstance(v, list) else v) for k, v in limits.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ------------------------------------------------------------------ kinds.yml


def _load_kinds(file: _File, concepts: Mapping[str, Concept],
                source_keys: Optional[Set[str]]) -> Tuple[Dict[str, Tuple[str, ...]], Tuple[KindRule, ...]]:
    data = file.data
    if not file.mapping(data, 1, KINDS_FILE):
        return {}, ()
    file.fields(data, ("groups", "rules", "watch_for"), ("rules",), KINDS_FILE)

    groups: Dict[str, Tuple[str, ...]] = {}
    group_data = data.get("groups", LineDict())
    if file.mapping(group_data, data.line_of("groups"), "groups"):
        for name, entry in group_data.items():
            line = group_data.line_of(name)
            label = f"group {name}"
            if not isinstance(name, str) or not _CAPS.match(name):
                file.problem(line, f"groups: name {name!r} must be CAPS, e.g. OD_INGEST")
                continue
            if name in concepts:
                file.problem(line, f"group {name} has the name of a concept ({concepts[name].where})")
                continue
            if not file.mapping(entry, line, label):
                continue
            file.fields(entry, ("means", "concepts"), ("means", "concepts"), label)
            file.text(entry, "means", label)
            members = []
            for item_line, member in _string_list(file, entry.get("concepts"), entry.line_of("concepts"), f"{label}: concepts"):
                if member not in concepts:
                    file.problem(item_line, f"{label}: unknown concept {member!r} (concepts are in {CONCEPTS_FILE})")
                else:
                    members.append(member)
            groups[name] = tuple(members)

    rules: List[KindRule] = []
    value = data.get("rules")
    if "rules" in data and not isinstance(value, list):
        file.problem(data.line_of("rules"), "rules must be a list of '- kind: ...' entries")
        value = []
    first_line: Dict[str, int] = {}
    previous: Optional[str] = None  # the kind of the rule before
    closing: Optional[Tuple[str, int]] = None  # the kind whose rules run only if nothing else fired
    for line, item, kind, label, start in _rule_entries(file, value, "rules", RULE_FIELDS, RULE_REQUIRED):
        if isinstance(kind, str) and kind in RED_FLAG_KINDS:
            if kind in first_line and previous != kind:
                file.problem(item.line_of("kind"), f"the rules for {kind} must be together (its first rule is at "
                                                   f"line {first_line[kind]}): their order is the report order")
            if closing and kind != closing[0]:
                file.problem(item.line_of("kind"), f"rules with only_if_nothing_else ({closing[0]}, line "
                                                   f"{closing[1]}) must come after every other rule")
            first_line.setdefault(kind, item.line_of("kind"))
        means = file.text(item, "means", label)
        terms = _terms(file, item, label, concepts, groups)
        unless_fired = _names(file, item, "unless_fired", label)
        for fired in unless_fired:
            if fired not in RED_FLAG_KINDS:
                file.problem(item.line_of("unless_fired"), f"{label}: unless_fired: unknown kind {fired!r}")
            elif fired not in first_line or fired == kind:
                file.problem(item.line_of("unless_fired"),
                             f"{label}: unless_fired: {fired} must be decided first (move its rules above this one)")
        unless_mentioned = _names(file, item, "unless_mentioned", label)
        for name in unless_mentioned:
            if name not in concepts:
                file.problem(item.line_of("unless_mentioned"), f"{label}: unless_mentioned: unknown concept {name!r}")
        only = file.flag(item, "only_if_nothing_else", label)
        if only and isinstance(kind, str) and closing is None:
            closing = (kind, item.line_of("kind"))
        same_sentence = file.flag(item, "same_sentence", label)
        ordered = file.flag(item, "ordered", label)
        source = _source(file, item, label, source_keys)
        reviewer, reviewed = file.review(item, label)
        previous = kind if isinstance(kind, str) else previous
        if len(file.problems) == start and terms and isinstance(kind, str) and reviewed:
            rules.append(KindRule(
                kind=kind, means=means, terms=terms, same_sentence=same_sentence, ordered=ordered,
                unless_fired=unless_fired, unless_mentioned=unless_mentioned, only_if_nothing_else=only,
                source=source, reviewer=reviewer, reviewed=reviewed, where=file.where(line)))
    if "rules" in data:
        for kind in RED_FLAG_KINDS:
            if kind not in first_line:
                file.problem(data.line_of("rules"), f"no rule for kind {kind} (every kind in knowledge/topics.py needs one)")
    return groups, tuple(rules)


WATCH_FIELDS = ("kind", "means", "all", "source", "reviewer", "reviewed")


def _rule_entries(file: _File, value: Any, section: str, allowed: Sequence[str], required: Sequence[str],
                  ) -> Iterator[Tuple[int, LineDict, Any, str, int]]:
    """(line, item, kind, label, problems before it) for each mapping of a rules list, with
    its fields and its kind checked: what `rules:` and `watch_for:` entries share."""
    noun = "rule" if section == "rules" else f"{section} rule"
    for index, item in enumerate(value or []):
        line = value.line_at(index)
        if not isinstance(item, dict):
            file.problem(line, f"{section}: each rule is a mapping with kind, means, all, source, reviewer, reviewed")
            continue
        kind = item.get("kind")
        label = f"{noun} for {kind}" if isinstance(kind, str) else noun
        start = len(file.problems)
        file.fields(item, allowed, required, label)
        if "kind" in item and kind not in RED_FLAG_KINDS:
            file.problem(item.line_of("kind"), f"unknown kind {kind!r} (kinds: {', '.join(RED_FLAG_KINDS)})")
        yield line, item, kind, label, start


def _load_watch_for(file: _File, concepts: Mapping[str, Concept], groups: Mapping[str, Tuple[str, ...]],
                    source_keys: Optional[Set[str]]) -> Tuple[KindRule, ...]:
    """The `watch_for:` rules: a kind a message asks about (what to watch for, what if)."""
    data = file.data
    value = data.get("watch_for") if isinstance(data, dict) else None
    if value is None:
        return ()
    if not isinstance(value, list):
        file.problem(data.line_of("watch_for"), "watch_for must be a list of '- kind: ...' entries")
        return ()
    rules: List[KindRule] = []
    for line, item, kind, label, start in _rule_entries(file, value, "watch_for", WATCH_FIELDS, WATCH_FIELDS):
        means = file.text(item, "means", label)
        terms = _terms(file, item, label, concepts, groups)
        source = _source(file, item, label, source_keys)
        reviewer, reviewed = file.review(item, label)
        if len(file.problems) == start and terms and isinstance(kind, str) and reviewed:
            rules.append(KindRule(
                kind=kind, means=means, terms=terms, same_sentence=False, ordered=False, unless_fired=(),
                unless_mentioned=(), only_if_nothing_else=False, source=source, reviewer=reviewer,
                reviewed=reviewed, where=file.where(line)))
    return tuple(rules)


def _terms(file: _File, item: LineDict, label: str, concepts: Mapping[str, Concept],
           groups: Mapping[str, Tuple[str, ...]]) -> Tuple[FrozenSet[str], ...]:
    if "all" not in item:
        return ()
    terms: List[FrozenSet[str]] = []

    def resolve(name: Any, line: int) -> List[str]:
        if isinstance(name, str) and name in groups:
            return list(groups[name])
        if isinstance(name, str) and name in concepts:
            return [name]
        file.problem(line, f"{label}: unknown concept {name!r} (concepts are in {CONCEPTS_FILE}, groups above)")
        return []

    for line, term in _string_list(file, item.get("all"), item.line_of("all"), f"{label}: all"):
        if isinstance(term, dict):
            if set(term) != {"any"}:
                file.problem(line, f"{label}: an item of all is a concept, a group or {{any: [A, B]}}")
                continue
            names: List[str] = []
            for any_line, name in _string_list(file, term["any"], term.line_of("any"), f"{label}: any"):
                names.extend(resolve(name, any_line))
            terms.append(frozenset(names))
        else:
            terms.append(frozenset(resolve(term, line)))
    return tuple(terms)


def _names(file: _File, item: LineDict, key: str, label: str) -> Tuple[str, ...]:
    if key not in item:
        return ()
    return tuple(name for _, name in _string_list(file, item[key], item.line_of(key), f"{label}: {key}"))


def _source(file: _File, item: LineDict, label: str, source_keys: Optional[Set[str]]) -> Mapping[str, Any]:
    value = item.get("source")
    if "source" not in item or not file.mapping(value, item.line_of("source"), f"{label}: source"):
        return {}
    file.fields(value, SOURCE_FIELDS, SOURCE_FIELDS, f"{label}: source")
    section = file.text(value, "section", f"{label}: source")
    tags = []
    for line, tag in _string_list(file, value.get("tags"), value.line_of("tags"), f"{label}: source tags"):
        if not isinstance(tag, str) or not tag.strip():
            file.problem(line, f"{label}: a source tag is text, e.g. LIT Boxed Warning")
        elif source_keys is not None and tag.split()[0] not in source_keys:
            file.problem(line, f"{label}: unknown source tag {tag.split()[0]!r} (tags are the keys of "
                               "knowledge/sources.yml, as in the fact sheet)")
        else:
            tags.append(tag)
    return {"section": section, "tags": tuple(tags)}


def _source_keys() -> Optional[Set[str]]:
    """Keys of knowledge/sources.yml, or None when it does not load (the knowledge build says why)."""
    from knowledge.schema import load_sources  # late: only the tag check needs it

    try:
        return set(load_sources())
    except (ValidationError, OSError, ValueError):
        return None


# ------------------------------------------------------------------ loading


def load_rules(directory: Optional[PathLike] = None) -> Rules:
    """The validated rule files of `directory` (default safety/rules/); raises RuleFileError."""
    root = Path(directory) if directory else RULES_DIR
    problems: List[Problem] = []
    words = _File(root / WORDS_FILE, problems)
    classes, lists, numbers, spelling = _load_words(words) if words.ok else ({}, {}, {}, ())
    concept_file = _File(root / CONCEPTS_FILE, problems)
    concepts, cues = _load_concepts(concept_file, classes) if concept_file.ok else ({}, {})
    kinds = _File(root / KINDS_FILE, problems)
    groups, rules = _load_kinds(kinds, concepts, _source_keys()) if kinds.ok else ({}, ())
    watch_for = _load_watch_for(kinds, concepts, groups, _source_keys()) if kinds.ok else ()
    if problems:
        raise RuleFileError(problems)
    used = {name for rule in (*rules, *watch_for) for term in rule.terms for name in term}
    used |= {name for rule in rules for name in rule.unless_mentioned}
    unused = tuple(name for name, c in concepts.items() if name not in used and not c.sign)
    return Rules(directory=root, classes=classes, lists=lists, numbers=numbers, spelling=spelling,
                 concepts=concepts, cues=cues, groups=groups, rules=rules, unused=unused, watch_for=watch_for)


def check(directory: Optional[PathLike] = None) -> Tuple[Optional[Rules], List[Problem]]:
    """(rules, []) when the files are valid, else (None, problems)."""
    try:
        return load_rules(directory), []
    except RuleFileError as exc:
        return None, exc.errors
