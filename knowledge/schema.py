"""Validation of the knowledge content, the sources list and the lexicon.

Every problem is reported as `path:line: message` and all problems are
collected before failing, so an author can fix a whole file in one pass.
YAML is loaded with a SafeLoader subclass that remembers the line of every
mapping, key and list item.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import yaml

from knowledge.topics import EMERGENCY, FORMS, POPULATIONS, RED_FLAG_KINDS, TOPICS

KNOWLEDGE_DIR = Path(__file__).resolve().parent
PathLike = Union[str, "os.PathLike[str]"]

ENTRY_FIELDS = ("id", "topic", "subtopic", "title", "text", "questions", "source", "reviewed")
# Being phased in while the content gains titles and questions; see _check_entry.
OPTIONAL_ENTRY_FIELDS = ("title", "questions")
SOURCE_FIELDS = ("doc", "section")
LEXICON_SECTIONS = ("baclofen", "classes", "drugs", "forms", "populations", "aspects")
# Optional: words for the same thing, used only by the answer ranker (not entities).
OPTIONAL_LEXICON_SECTIONS = ("concepts", "brand_forms")
CLASS_FIELDS = ("name", "terms")
DRUG_FIELDS = ("name", "class", "terms")
TERM_KINDS = ("drug", "class", "baclofen", "form", "population", "aspect")

# Length limits match the columns of knowledge/models.py (PostgreSQL enforces them).
KEBAB_ID = re.compile(r"^(?=.{1,120}$)[a-z0-9]+(?:-[a-z0-9]+)*$")
LEXICON_ID = re.compile(r"^(?=.{1,60}$)[a-z0-9]+(?:[_-][a-z0-9]+)*$")
SOURCE_KEY = re.compile(r"^\S{1,32}$")


# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ValidationError(Exception):
    """Raised with every problem found; `errors` is the list of Problems."""

    def __init__(self, errors: Iterable[Problem]):
        self.errors: List[Problem] = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def _display(path: Path) -> str:
    """A path as an author would type it: relative to the working directory if inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ------------------------------------------------------- YAML with lines


class LineDict(dict):
    """A mapping that knows its own line and the line of each key."""

    def __init__(self) -> None:
        super().__init__()
        self.line = 0
        self.key_lines: Dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A list that knows its own line and the line of each item."""

    def __init__(self) -> None:
        super().__init__()
        self.line = 0
        self.item_lines: List[int] = []

    def line_at(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: List[Tuple[int, Any]] = []


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    loader.flatten_mapping(node)
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if key in data:
            loader.duplicate_keys.append((line, key))
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    yield data
    for child in node.value:
        data.append(loader.construct_object(child, deep=True))
        data.item_lines.append(child.start_mark.line + 1)


def _construct_timestamp(loader: "_LineLoader", node: yaml.Node) -> Any:
    """A date; an impossible one (2026-13-01) stays text, so the check reports it with its
    line instead of the YAML library raising."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _load_yaml(path: Path, problems: List[Problem]) -> Any:
    """Parse one YAML file; on failure record a problem and return None."""
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, 0, f"cannot read file: {exc}"))
        return None
    loader: Optional[_LineLoader] = None
    try:
        loader = _LineLoader(text)  # the reader already rejects control characters here
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        message = f"invalid YAML: {exc.problem or exc}"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        problems.append(Problem(shown, line, message))
        return None
    except (yaml.YAMLError, RecursionError) as exc:
        problems.append(Problem(shown, 0, f"invalid YAML: {' '.join(str(exc).split())}"))
        return None
    finally:
        if loader is not None:
            loader.dispose()
    for line, key in loader.duplicate_keys:
        problems.append(Problem(shown, line, f"duplicate key '{key}'"))
    return data


def _plain(value: Any) -> Any:
    """LineDict/LineList → dict/list, for callers that should not see line data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _line(value: Any) -> int:
    return getattr(value, "line", 0)


# ------------------------------------------------------------ text checks

_NUMBER = r"\d+(?:[.,]\d+)*"
_JOIN = r"(?:,\s*(?:or|and)\s+|\s*[-–—,]\s*|\s+(?:to|or|and)\s+)"
_NUMBER_GROUP = re.compile(rf"(?<![\w.\-–/]){_NUMBER}(?:{_JOIN}{_NUMBER})*")
_UNIT_AFTER = re.compile(
    r"\s*(?:mg|mcg|µg|μg|ug|micrograms?|milligrams?|grams?|g|kg|ml|mls|milliliters?|millilitres?"
    r"|%|percent|per\s?cent|[°º]\s?[cf]?|degrees?|units?|mmol|iu)(?![a-z])",
    re.IGNORECASE,
)
# "10 three times", "20 four times daily", "80 a day", "5 at night"
_FREQUENCY_AFTER = re.compile(
    r"\s*(?:once|twice|thrice|(?:one|two|three|four|five|six|\d+)\s+times?"
    r"|(?:a|per|each|every)\s+(?:day|night|week)|daily|nightly|/\s*day"
    r"|at\s+(?:night|bedtime)|in\s+the\s+(?:morning|evening))\b",
    re.IGNORECASE,
)
# "take 10.", "up to 80," "start at 5 and": a bare number right after a dosing verb.
_DOSE_VERB_BEFORE = re.compile(
    r"(?:\btakes?|\btaking|\btook|\bdoses?\s+(?:of|is|was|to)|\bmax(?:imum)?(?:\s+(?:of|is))?"
    r"|\bmost\s+is|\bup\s+to|\b(?:increase|raise|reduce|lower)(?:s|d|ed)?\s+(?:it\s+)?(?:to|by)"
    r"|\bstart(?:s|ed|ing)?\s+(?:at|on|with))\s*$",
    re.IGNORECASE,
)
_BARE_END_AFTER = re.compile(
    r"\s*(?:$|[.;:,!?)\]]|(?:and|or|then|at|each|every|per|for)\b)", re.IGNORECASE
)
# Phone and emergency numbers are not doses.
_PHONE = re.compile(
    r"(?<!\d)(?:\+?1[-.\s])?\(?\d{3}\)?[-.\s]\d{3}[-.\s]\d{4}(?!\d)|\b(?:911|999|111|112|988)\b"
)
_ML = re.compile(r"(?<![A-Za-z])(?:m[lL]|mls|millilit(?:er|re)s?)(?![A-Za-z])")
_MG = re.compile(r"(?<![a-z])(?:mg|mcg|µg|μg|milligrams?|micrograms?)(?![a-z])", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _snippet(text: str, start: int, end: int) -> str:
    left = max(0, start - 25)
    right = min(len(text), end + 25)
    return " ".join(text[left:right].split())


def _bare_doses(text: str) -> Iterator[str]:
    """Numbers used as doses with no unit, e.g. "take 10 three times"."""
    masked = _PHONE.sub(lambda m: "#" * len(m.group()), text)
    for match in _NUMBER_GROUP.finditer(masked):
        after = masked[match.end():]
        if _UNIT_AFTER.match(after):
            continue
        frequency = _FREQUENCY_AFTER.match(after)
        bare_after_verb = _DOSE_VERB_BEFORE.search(masked[: match.start()]) and _BARE_END_AFTER.match(after)
        if frequency or bare_after_verb:
            yield _snippet(text, match.start(), match.end())


def text_problems(text: str) -> List[str]:
    """Dose-wording problems in an entry text (doses need units; mL needs mg)."""
    messages = [f"dose without units near '{s}' (write doses in mg or mcg)" for s in _bare_doses(text)]
    for sentence in _SENTENCE_END.split(text):
        if _ML.search(sentence) and not _MG.search(sentence):
            messages.append(
                f"mL without mg in the same sentence: '{' '.join(sentence.split())[:80]}' "
                "(always give the dose in mg)"
            )
    return messages


# ------------------------------------------------------------- sources


def _validate_sources(data: Any, shown: str, problems: List[Problem]) -> Dict[str, Dict[str, Any]]:
    """sources.yml: KEY: {title: ..., ...} (a bare string is taken as the title)."""
    sources: Dict[str, Dict[str, Any]] = {}
    if not isinstance(data, dict) or not data:
        problems.append(Problem(shown, _line(data), "sources must be a non-empty mapping KEY: {title: ...}"))
        return sources
    for key, value in data.items():
        line = data.line_of(key)
        if not isinstance(key, str) or not SOURCE_KEY.match(key):
            problems.append(Problem(shown, line, f"source key {key!r} must be one word of at most 32 characters, e.g. TAB"))
            continue
        if isinstance(value, str):
            value = {"title": value}
        if not isinstance(value, dict):
            problems.append(Problem(shown, line, f"source '{key}' must be a mapping with a title"))
            continue
        title = value.get("title")
        if not isinstance(title, str) or not title.strip():
            problems.append(Problem(shown, line, f"source '{key}': missing title"))
            continue
        sources[key] = _plain(value)
    return sources


def _sources_from(path: Path, problems: List[Problem]) -> Tuple[Dict[str, Dict[str, Any]], Optional[frozenset]]:
    """(valid sources, every key written in the file or None when the file is unusable)."""
    before = len(problems)
    data = _load_yaml(path, problems)
    if data is None:
        if len(problems) == before:
            problems.append(Problem(_display(path), 0, "file is empty"))
        return {}, None
    sources = _validate_sources(data, _display(path), problems)
    return sources, (frozenset(data) if isinstance(data, dict) else None)


def load_sources(path: Optional[PathLike] = None) -> Dict[str, Dict[str, Any]]:
    """Validated sources.yml as {key: {"title": ..., ...}}; raises ValidationError."""
    problems: List[Problem] = []
    sources, _ = _sources_from(Path(path) if path else KNOWLEDGE_DIR / "sources.yml", problems)
    if problems:
        raise ValidationError(problems)
    return sources


# ------------------------------------------------------------- lexicon


@dataclass(frozen=True)
class LexiconTerm:
    term: str  # normalised (see normalise_term)
    kind: str  # one of TERM_KINDS
    target_id: str


def normalise_term(text: str) -> str:
    """Lower case, single spaces, no surrounding punctuation: how terms are matched."""
    return " ".join(str(text).lower().split()).strip(" .,;:!?\"'()")


class _LexiconChecker:
    def __init__(self, shown: str, problems: List[Problem]) -> None:
        self.shown = shown
        self.problems = problems
        self.seen: Dict[str, Tuple[str, str, str, int]] = {}  # term -> (kind, id, label, line)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.shown, line, message))

    def terms(self, value: Any, line: int, kind: str, target: str, label: str) -> None:
        """A non-empty list of phrases, none already naming something else."""
        if not isinstance(value, list) or not value:
            self.problem(line, f"{label}: terms must be a non-empty list of phrases")
            return
        for index, raw in enumerate(value):
            item_line = value.line_at(index) if isinstance(value, LineList) else line
            term = normalise_term(raw) if isinstance(raw, str) else ""
            if not term:
                self.problem(item_line, f"{label}: term {raw!r} must be a non-empty phrase")
                continue
            if len(term) > 200:
                self.problem(item_line, f"{label}: term '{term[:40]}...' is too long")
                continue
            previous = self.seen.get(term)
            if previous is None:
                self.seen[term] = (kind, target, label, item_line)
            elif previous[:2] != (kind, target):
                self.problem(
                    item_line,
                    f"term '{term}' maps to two different ids: {previous[2]} (line {previous[3]}) and {label}",
                )

    def fields(self, value: Any, line: int, label: str, allowed: Tuple[str, ...]) -> bool:
        if not isinstance(value, dict):
            self.problem(line, f"{label} must be a mapping with fields {', '.join(allowed)}")
            return False
        for name in allowed:
            if name not in value:
                self.problem(line, f"{label}: missing field '{name}'")
        for name in value:
            if name not in allowed:
                self.problem(value.line_of(name), f"{label}: unknown field '{name}'")
        return True

    def ids(self, section: Any, section_name: str, line: int) -> Iterator[Tuple[str, Any, int]]:
        """(id, value, line) of a section mapping, reporting malformed ids."""
        if not isinstance(section, dict) or not section:
            self.problem(line, f"'{section_name}' must be a non-empty mapping of id: ...")
            return
        for key, value in section.items():
            key_line = section.line_of(key)
            if not isinstance(key, str) or not LEXICON_ID.match(key):
                self.problem(key_line, f"{section_name}: id {key!r} must be lower-case words joined by _ or - (at most 60 characters)")
                continue
            yield key, value, key_line


def _validate_lexicon(data: Any, shown: str, problems: List[Problem]) -> Dict[str, Any]:
    check = _LexiconChecker(shown, problems)
    if not isinstance(data, dict):
        check.problem(_line(data), f"the lexicon must be a mapping with sections {', '.join(LEXICON_SECTIONS)}")
        return {}
    for name in LEXICON_SECTIONS:
        if name not in data:
            check.problem(data.line, f"missing section '{name}'")
    for name in data:
        if name not in LEXICON_SECTIONS + OPTIONAL_LEXICON_SECTIONS:
            check.problem(data.line_of(name), f"unknown section '{name}'")

    if "baclofen" in data:
        check.terms(data["baclofen"], data.line_of("baclofen"), "baclofen", "baclofen", "baclofen")

    class_ids = set()
    if "classes" in data:
        for cid, value, line in check.ids(data["classes"], "classes", data.line_of("classes")):
            class_ids.add(cid)
            label = f"classes.{cid}"
            if check.fields(value, line, label, CLASS_FIELDS):
                _check_name(check, value, label)
                if "terms" in value:
                    check.terms(value["terms"], value.line_of("terms"), "class", cid, label)

    if "drugs" in data:
        for did, value, line in check.ids(data["drugs"], "drugs", data.line_of("drugs")):
            label = f"drugs.{did}"
            if did in class_ids:
                check.problem(line, f"{label}: drug id is also a class id")
            if not check.fields(value, line, label, DRUG_FIELDS):
                continue
            _check_name(check, value, label)
            drug_class = value.get("class")
            if "class" in value and drug_class is not None and drug_class not in class_ids:
                check.problem(value.line_of("class"), f"{label}: class {drug_class!r} is not a class id (or null)")
            if "terms" in value:
                check.terms(value["terms"], value.line_of("terms"), "drug", did, label)

    # Aspect ids are free: they are words of the answer ranker, not entry keys.
    allowed_ids = {"forms": ("form", FORMS), "populations": ("population", POPULATIONS), "aspects": ("aspect", None)}
    for section, (kind, valid) in allowed_ids.items():
        if section not in data:
            continue
        for key, value, line in check.ids(data[section], section, data.line_of(section)):
            label = f"{section}.{key}"
            if valid is not None and key not in valid:
                check.problem(line, f"{label}: id must be one of {', '.join(sorted(valid))} (knowledge/topics.py)")
            check.terms(value, line, kind, key, label)
    if "brand_forms" in data:
        _check_brand_forms(check, data, data["brand_forms"], data.line_of("brand_forms"))
    if "concepts" in data:
        # A separate vocabulary: a concept word may also be an entity term ("sleepy"),
        # but within the concepts each phrase means one thing.
        concepts = _LexiconChecker(shown, problems)
        for key, value, line in concepts.ids(data["concepts"], "concepts", data.line_of("concepts")):
            concepts.terms(value, line, "concept", key, f"concepts.{key}")
    return _plain(data)


def _check_brand_forms(check: _LexiconChecker, data: Any, value: Any, line: int) -> None:
    """brand_forms: a baclofen brand (one of `baclofen`'s terms) → the form it comes in."""
    if not isinstance(value, dict):
        check.problem(line, "brand_forms must map a brand to a form")
        return
    names = {normalise_term(str(t)) for t in (data.get("baclofen") or [])}
    for brand, form in value.items():
        at = value.line_of(brand) if hasattr(value, "line_of") else line
        if normalise_term(str(brand)) not in names:
            check.problem(at, f"brand_forms.{brand}: not one of baclofen's names (section baclofen)")
        if form not in FORMS:
            check.problem(at, f"brand_forms.{brand}: form must be one of {', '.join(sorted(FORMS))} (knowledge/topics.py)")


def _check_name(check: _LexiconChecker, value: Dict[str, Any], label: str) -> None:
    name = value.get("name")
    if "name" in value and (not isinstance(name, str) or not name.strip()):
        check.problem(value.line_of("name"), f"{label}: name must be non-empty text")


def _lexicon_from(path: Path, problems: List[Problem]) -> Dict[str, Any]:
    before = len(problems)
    data = _load_yaml(path, problems)
    if data is None:
        if len(problems) == before:
            problems.append(Problem(_display(path), 0, "file is empty"))
        return {}
    return _validate_lexicon(data, _display(path), problems)


def load_lexicon(path: Optional[PathLike] = None) -> Dict[str, Any]:
    """Validated lexicon (plain dicts/lists, as written); raises ValidationError.

    Used by the builder and by nlp/build_pipeline.py.
    """
    problems: List[Problem] = []
    lexicon = _lexicon_from(Path(path) if path else KNOWLEDGE_DIR / "lexicon.yml", problems)
    if problems:
        raise ValidationError(problems)
    return lexicon


def lexicon_terms(lexicon: Dict[str, Any]) -> List[LexiconTerm]:
    """Every (normalised term, kind, id) of a validated lexicon, without repeats."""
    found: Dict[str, LexiconTerm] = {}

    def add(terms: Iterable[str], kind: str, target: str) -> None:
        for raw in terms:
            term = normalise_term(raw)
            found.setdefault(term, LexiconTerm(term, kind, target))

    add(lexicon.get("baclofen", ()), "baclofen", "baclofen")
    for cid, value in lexicon.get("classes", {}).items():
        add(value["terms"], "class", cid)
    for did, value in lexicon.get("drugs", {}).items():
        add(value["terms"], "drug", did)
    for section, kind in (("forms", "form"), ("populations", "population"), ("aspects", "aspect")):
        for key, terms in lexicon.get(section, {}).items():
            add(terms, kind, key)
    return list(found.values())


# ------------------------------------------------------------- content


@dataclass(frozen=True)
class ContentEntry:
    id: str
    topic: str
    subtopic: str
    text: str
    title: str
    questions: Tuple[str, ...]
    source_doc: str
    source_section: str
    reviewed: dt.date
    path: str
    line: int


@dataclass(frozen=True)
class Knowledge:
    sources: Dict[str, Dict[str, Any]]
    lexicon: Dict[str, Any]
    entries: Tuple[ContentEntry, ...]


def _check_entry(
    item: Any, index_line: int, shown: str, sources: Optional[frozenset], problems: List[Problem],
    asked: Optional[Dict[str, Tuple[str, int, str]]] = None,
) -> Optional[ContentEntry]:
    """Check one entry; return it when it is complete and correct."""
    start = len(problems)

    def problem(line: int, message: str) -> None:
        problems.append(Problem(shown, line, message))

    if not isinstance(item, dict):
        problem(index_line, "each entry must be a mapping with fields " + ", ".join(ENTRY_FIELDS))
        return None
    entry_id = item.get("id")
    label = f"entry '{entry_id}'" if isinstance(entry_id, str) else "entry"
    for name in ENTRY_FIELDS:
        if name not in item and name not in OPTIONAL_ENTRY_FIELDS:
            problem(item.line, f"{label}: missing field '{name}'")
    for name in item:
        if name not in ENTRY_FIELDS:
            problem(item.line_of(name), f"{label}: unknown field '{name}'")

    if "id" in item and (not isinstance(entry_id, str) or not KEBAB_ID.match(entry_id)):
        problem(item.line_of("id"), f"{label}: id must be kebab-case text of at most 120 characters, e.g. dosage-maximum")

    topic, subtopic = item.get("topic"), item.get("subtopic")
    if "topic" in item and (not isinstance(topic, str) or (topic not in TOPICS and topic != EMERGENCY)):
        problem(item.line_of("topic"), f"{label}: unknown topic {topic!r} (see knowledge/topics.py)")
    elif "subtopic" in item and topic == EMERGENCY and subtopic not in RED_FLAG_KINDS:
        problem(item.line_of("subtopic"), f"{label}: unknown red-flag kind {subtopic!r} (knowledge/topics.py)")
    elif "subtopic" in item and (not isinstance(subtopic, str) or not LEXICON_ID.match(subtopic)):
        problem(item.line_of("subtopic"), f"{label}: subtopic must be lower-case words joined by _ (e.g. half_life)")

    text = item.get("text")
    if "text" in item:
        if not isinstance(text, str) or not text.strip():
            problem(item.line_of("text"), f"{label}: empty text")
        else:
            for message in text_problems(text):
                problem(item.line_of("text"), f"{label}: {message}")

    source = item.get("source")
    if "source" in item:
        _check_source(source, item.line_of("source"), label, sources, problem)

    title = item.get("title")
    if "title" in item and (not isinstance(title, str) or not 3 <= len(title.strip()) <= 70):
        problem(item.line_of("title"), f"{label}: title must be 3 to 70 characters, e.g. How long it stays in the body")
    questions = item.get("questions")
    if "questions" in item and (
        not isinstance(questions, list) or not questions
        or not all(isinstance(q, str) and q.strip() for q in questions)
    ):
        problem(item.line_of("questions"), f"{label}: questions must be a non-empty list of question texts")
    elif "questions" in item:
        _check_questions(questions, item.line_of("questions"), label, shown, asked if asked is not None else {}, problem)

    reviewed = item.get("reviewed")
    if "reviewed" in item and (not isinstance(reviewed, dt.date) or isinstance(reviewed, dt.datetime)):
        problem(item.line_of("reviewed"), f"{label}: reviewed must be a date like 2026-11-22, not {reviewed!r}")

    if len(problems) > start:
        return None
    return ContentEntry(
        id=entry_id, topic=topic, subtopic=subtopic, text=" ".join(text.split()),
        title=" ".join(title.split()) if isinstance(title, str) else "",
        questions=tuple(" ".join(q.split()) for q in questions or ()),
        source_doc=source["doc"], source_section=" ".join(source["section"].split()),
        reviewed=reviewed, path=shown, line=item.line,
    )


_ANNOTATION = re.compile(r"[\[\]{}]")


def question_key(text: str) -> str:
    """How two questions are compared: case, spacing and end punctuation aside."""
    return " ".join(text.lower().split()).strip("?!.,;: ")


def _check_questions(questions: List[str], line: int, label: str, shown: str,
                     asked: Dict[str, Tuple[str, int, str]], problem: Any) -> None:
    """A question belongs to one entry (the ranker and the intent classifier learn from it),
    and must not contain Rasa's annotation characters (it becomes a training example)."""
    for index, question in enumerate(questions):
        at = questions.line_at(index) if isinstance(questions, LineList) else line
        if _ANNOTATION.search(question):
            problem(at, f"{label}: a question must not contain [ ] {{ }} (Rasa reads them as annotations)")
        key = question_key(question)
        if key in asked:
            first_path, first_line, first_label = asked[key]
            problem(at, f"{label}: question {question!r} is already asked at {first_path}:{first_line} ({first_label})")
        else:
            asked[key] = (shown, at, label)


def _check_source(source: Any, line: int, label: str, sources: Optional[frozenset], problem: Any) -> None:
    if not isinstance(source, dict):
        problem(line, f"{label}: source must be a mapping with doc and section")
        return
    for name in SOURCE_FIELDS:
        if name not in source:
            problem(line, f"{label}: missing field 'source.{name}'")
    for name in source:
        if name not in SOURCE_FIELDS:
            problem(source.line_of(name), f"{label}: unknown field 'source.{name}'")
    doc = source.get("doc")
    if "doc" in source:
        if not isinstance(doc, str) or not doc.strip():
            problem(source.line_of("doc"), f"{label}: source.doc must be a key of sources.yml")
        elif sources is not None and doc not in sources:
            problem(source.line_of("doc"), f"{label}: source.doc '{doc}' is not in sources.yml")
    section = source.get("section")
    if "section" in source and (not isinstance(section, str) or not section.strip()):
        problem(source.line_of("section"), f"{label}: source.section is empty")


def _entries_from(
    path: Path,
    sources: Optional[frozenset],
    seen: Dict[str, Tuple[str, int]],
    problems: List[Problem],
    asked: Optional[Dict[str, Tuple[str, int, str]]] = None,
) -> List[ContentEntry]:
    shown = _display(path)
    before = len(problems)
    data = _load_yaml(path, problems)
    if data is None:
        if len(problems) == before:
            problems.append(Problem(shown, 0, "file is empty"))
        return []
    if not isinstance(data, list):
        problems.append(Problem(shown, _line(data), "a content file must be a list of entries"))
        return []
    entries = []
    for index, item in enumerate(data):
        line = data.line_at(index)
        entry_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(entry_id, str):
            id_line = item.line_of("id")
            if entry_id in seen:
                first_path, first_line = seen[entry_id]
                problems.append(
                    Problem(shown, id_line, f"duplicate id '{entry_id}' (also at {first_path}:{first_line})")
                )
            else:
                seen[entry_id] = (shown, id_line)
        entry = _check_entry(item, line, shown, sources, problems, asked)
        if entry is not None:
            entries.append(entry)
    return entries


def content_files(root: Optional[PathLike] = None) -> List[Path]:
    content = Path(root or KNOWLEDGE_DIR) / "content"
    return sorted([*content.glob("*.yml"), *content.glob("*.yaml")])


def load_knowledge(root: Optional[PathLike] = None) -> Knowledge:
    """Validate content/*.yml, sources.yml and lexicon.yml under `root`.

    Raises ValidationError carrying every problem found.
    """
    base = Path(root or KNOWLEDGE_DIR)
    problems: List[Problem] = []
    # A source with a bad field is reported once, in sources.yml, not again for each entry;
    # when sources.yml is unusable, entries' docs are not checked at all.
    sources, known_sources = _sources_from(base / "sources.yml", problems)
    lexicon = _lexicon_from(base / "lexicon.yml", problems)
    files = content_files(base)
    if not files:
        problems.append(Problem(_display(base / "content"), 0, "no content files (*.yml)"))
    seen: Dict[str, Tuple[str, int]] = {}
    asked: Dict[str, Tuple[str, int, str]] = {}
    entries: List[ContentEntry] = []
    for path in files:
        entries.extend(_entries_from(path, known_sources, seen, problems, asked))
    if problems:
        raise ValidationError(problems)
    return Knowledge(sources=sources, lexicon=lexicon, entries=tuple(entries))
