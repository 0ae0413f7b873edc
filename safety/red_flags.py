"""Deterministic red-flag detector: does a message describe an emergency now?

How it works (all rules are plain word lists below, matched on lower-case NORM,
which the pipeline's spelling component has already corrected):

1. CONCEPTS are small token patterns ("having a seizure", "pump ... beeping",
   "took too many"). Each match is a *hit*.
2. A hit does not count when it is
   - negated: "no", "not", "never", "without", "denies" shortly before it in the
     same clause ("no fever", "hasn't had a seizure");
   - hypothetical or general: after "if" / "in case" / "what happens" / "can X
     cause" in its sentence, in a clause about "signs of" / "side effects" /
     what something "means", in a sentence opening with "will"/"would", in a
     question that names no real person ("is hallucinating common?"), or in a
     sentence about the distant past ("years ago", "as a child").
   Stated intent to self-harm ignores the hypothetical checks (but not negation,
   nor "is suicidal thinking a side effect?").
3. KIND RULES combine live hits into the kinds of knowledge.topics.RED_FLAG_KINDS
   (e.g. pump mention + alarm sounding → pump_alarm).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from knowledge.topics import RED_FLAG_KINDS
from nlp.pipeline import parse

logger = logging.getLogger(__name__)

# Kinds the detector reports: the emergency subtopics. "general" is an emergency
# stated outright ("this is an emergency", "call an ambulance") with no sign named.
KINDS: Tuple[str, ...] = RED_FLAG_KINDS

# Reported first when several kinds fire: the most specific situation leads.
PRIORITY: Tuple[str, ...] = (
    "self_harm", "newborn", "child_ingestion", "withdrawal_oral", "pump_withdrawal",
    "pump_infection", "kidney_confusion", "unresponsive", "breathing", "seizure",
    "overdose", "pump_alarm", "fever_rigidity", "general",
)
assert set(PRIORITY) == set(KINDS), "PRIORITY must list exactly the emergency kinds"

MAX_CHARS = 5000  # longer input is cut: the guard caps messages well below this


@dataclass(frozen=True)
class RedFlag:
    kind: str
    text: str   # the words that raised the flag
    start: int  # character offsets in the message
    end: int


# --------------------------------------------------------------------------- words

BACLOFEN_NAMES = ("baclofen", "lioresal", "gablofen", "ozobax", "fleqsuvy", "lyvispah", "kemstro")

WORDS: Dict[str, Tuple[str, ...]] = {
    "BE": ("is", "are", "am", "was", "were", "'s", "s", "'re", "re", "'m", "m", "be", "been", "being"),
    "PRON_SUBJ": ("i", "he", "she", "they", "we"),
    "PRON_OBJ": ("him", "her", "them", "us"),
    "PRON_POSS": ("my", "his", "her", "their", "our", "your"),
    "PRON_REFL": ("myself", "himself", "herself", "themselves", "themself"),
    "KIN": ("mum", "mom", "mother", "mam", "dad", "father", "husband", "wife", "partner", "son",
            "daughter", "brother", "sister", "grandson", "granddaughter", "grandma", "grandpa",
            "grandad", "granddad", "nan", "nana", "granny", "boyfriend", "girlfriend", "friend"),
    # Things swallowed (not "dose": "ate before his dose" is not an ingestion).
    "MED": BACLOFEN_NAMES + ("tablet", "tablets", "pill", "pills", "tabs", "meds", "medicine",
                             "medicines", "medication", "medications", "liquid", "capsules",
                             "granules", "syrup"),
    "CONTAINER": ("bottle", "bottles", "strip", "strips", "packet", "packets", "pack", "box",
                  "blister", "container", "tub", "organiser", "organizer", "dosette"),
    "TAKE_PAST": ("took", "taken", "swallowed", "had", "ate", "eaten", "drank", "drunk", "downed",
                  "popped", "gave"),
    "CHILD_NOUN": ("son", "daughter", "kid", "kids", "child", "toddler", "baby", "infant",
                   "grandson", "granddaughter", "grandchild", "grandkid", "nephew", "niece",
                   "boy", "girl", "stepson", "stepdaughter"),
    "SEIZURE_N": ("seizure", "seizures", "fit", "fits", "convulsion", "convulsions"),
    "ORDINAL": ("second", "third", "fourth", "another", "2nd", "3rd", "4th", "multiple", "several"),
    "INTENS": ("very", "really", "so", "extremely", "too", "super", "incredibly", "unusually",
               "terribly", "totally"),
    "BREATH_BAD": ("slow", "slower", "shallow", "noisy", "laboured", "labored", "irregular",
                   "weird", "strange", "funny", "rattly", "rattling", "gurgling", "gurgly",
                   "raspy", "erratic", "slowly", "shallowly", "noisily", "irregularly",
                   "weirdly", "strangely"),
    "SPASM": ("spasms", "spasm", "spasticity", "stiffness", "tone", "cramps", "spasming"),
    "UNCERTAIN": ("know", "sure", "tell", "wonder", "wondering", "unsure", "certain", "check",
                  "see", "idea", "ask", "asking", "think"),
}
WORDS["PERSONAL"] = ("i", "me", "my", "mine", "myself", "we", "us", "our", "he", "him", "his",
                     "himself", "she", "her", "hers", "herself", "im", "ive") + WORDS["KIN"]

QUESTION_START = {"what", "how", "why", "when", "where", "who", "which", "is", "are", "does",
                  "do", "can", "could", "should", "will", "would", "may", "might", "was",
                  "were", "did", "whats"}
NEGATORS = {"not", "no", "never", "without", "denies", "deny", "denied", "nor", "neither", "none"}
# Where a clause ends; negation also stops at "and"/"so"/"just" ("no fever and stiff").
CLAUSE_ENDS = {",", ";", ":", ".", "!", "?", "-", "(", ")", "but", "however", "although",
               "though", "yet"}
NEGATION_BREAKS = CLAUSE_ENDS | {"and", "just", "so"}
SENTENCE_END = {".", "!", "?"}
WH_WORDS = {"what", "how", "whats"}
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "dozen": 12,
                     "couple": 2, "few": 3})

# --------------------------------------------------------------------------- concepts
# Pattern mini-language: words separated by spaces; "a|b" = either; "CAPS" = a word
# class above; "?" suffix = optional; "*" = any one token, optional; NUM = a number;
# TEMPNUM = a temperature reading like 39.5 / 102f; CHILDAGE = "6yo". NUM, TEMPNUM
# and CHILDAGE stand alone (not inside "a|b").

CONCEPTS: Dict[str, List[str]] = {
    # --- events and signs
    "SEIZURE_EVENT": [
        "having|had|started|keeps|keep * * * SEIZURE_N",
        "going|went|gone into * SEIZURE_N",
        "seizing|convulsing|seizuring",
        "BE|keeps|keep|started|still fitting",
        "ORDINAL SEIZURE_N",
        "SEIZURE_N today|tonight|now|earlier",
        "SEIZURE_N right|just now",
        "SEIZURE_N this morning|afternoon|evening",
        "eyes rolled|rolling|roll back",
        "foaming|frothing at the mouth",
    ],
    "BREATHING": [
        "not|barely|hardly think|believe? PRON_SUBJ? BE? breathe|breathing",
        "not|cant|cnt|cannot|carnt breathe|breath|breth|brethe|breathing",  # "cant breath", typos
        "stopped|stops|stopping breathing",
        "struggling|struggle|struggles|trouble|difficulty|difficult|hard|unable|fighting|labouring|laboring|gasping to|for? breathe|breathing|air",
        "struggling|struggle|trouble|difficulty|hard|unable|not to? catch|get|getting PRON_POSS? breath|breaths",
        "breathing * * * BREATH_BAD",
        "BREATH_BAD breathing|breaths",
        "few breaths a|per|each minute|min",
        "NUM breaths a|per|each minute|min",
        "lips|face|skin|mouth BE|look|looks|looking|turning|turned|gone|going * blue|grey|gray|purple",
        "PRON_SUBJ|KIN BE|has|have? turning|turned|gone|going|looks|looking blue|grey|gray|purple",
        "short of breath",
        "not get|getting enough air",
        "gurgling|gurgly|rattling|rattly|snoring * * * * breathes|breathing|breath|breaths",
        "gasping",
    ],
    "UNRESPONSIVE": [
        "not|barely|hardly wake|rouse|waking PRON_OBJ|PRON_POSS|KIN",
        "he|she|they|KIN BE|will|does|did|do|can? not|barely|hardly wake|waking|woken|rouse|roused|respond|responding|responsive|react|reacting",
        "not respond|responding|responsive|react|reacting to me|us|anything|anyone|voices|touch|pain|his|her|their|name",
        "not respond|responding|responsive|react|reacting at all",
        "not|barely|hardly respond|responding|responsive|react|reacting|answer|answering",
        "not get PRON_OBJ to? wake|respond",
        "will|would|does|did|can not wake|waking up",
        "not|barely|hardly keep PRON_OBJ awake",
        "not come|coming round|around",
        "barely|hardly|not get PRON_OBJ to answer|respond|talk|speak",
        "not open PRON_POSS eyes",
        "slumped|slumping over",
        "not really with it",
        "not get a word out of PRON_OBJ",
        "will|would not wake|rouse",
        "completely|totally out of it",
        "unconscious|unresponsive|unrousable|comatose|lifeless",
        "in a coma",
        "passed|blacked out",
        "collapsed",
        "out cold",
        "impossible|unable|hard|difficult to wake|rouse",
    ],
    "VERY_DROWSY": [
        "INTENS drowsy|sleepy|sedated|drowsey|dopey",
        "not|barely|hardly keep PRON_OBJ awake",
        "not|barely|hardly stay awake",
        "not|barely|hardly keep PRON_POSS eyes open",
    ],
    "FLOPPY": ["floppy|limp"],
    "CONFUSED": [
        "confused|confusion|muddled|disoriented|disorientated|incoherent|delirious|slurring|slurred",
        "not with it",
        "talking|speaking|saying nonsense|gibberish|rubbish",
        "not making sense",
        "acting|behaving strange|strangely|weird|weirdly|odd|oddly|funny|bizarre|bizarrely",
        "not know|recognise|recognize where|who|what|me|us",
        "out of it",
    ],
    "HALLUC": [
        "hallucinating|hallucinations|hallucination|hallucinate|hallucinated|paranoid|delirious",
        "seeing|see|saw|seen things|stuff|bugs|people|spiders|insects|animals|shapes|faces",
        "hearing|hear|heard voices|things|noises",
    ],
    "FEVER": [
        "fever|feverish|febrile|fevers",
        "high|raised|hot temperature|temp",
        "very high temperature|temp",
        "burning up",
        "running a temperature|temp|fever",
    ],
    "FEVER_NUM": ["fever|temp|temperature|temps BE? of? at? TEMPNUM"],
    "RIGID": [
        "rigid|rigidity|stiffness|stiff",
        "locked up",
        "muscles BE? * locked|locking|tight|seized",
        "rock hard",
        "hard as a? rock|board|plank",
    ],
    "STIFF_NECK": ["stiff neck", "neck BE? * stiff", "neck stiffness"],
    "HEADACHE_BAD": ["severe|bad|terrible|awful|worst|splitting headache"],
    "CHILLS": ["chills|shivering|rigors|shivers"],
    # --- overdose and ingestion
    "OVERDOSED": ["overdosed|od'd|oded", "TAKE_PAST an|a? overdose|od"],
    "TOO_MANY": [
        "TAKE_PAST|accidentally|accidently * * too many|much",
        "after|since taking|having * * too many|much",
        "TAKE_PAST * * extra|double MED",
        "TAKE_PAST a|an double|extra|second dose|tablet|pill",
        "TAKE_PAST PRON_POSS|it|the|a * dose|doses|MED? * twice",
        "TAKE_PAST it twice",
        "TAKE_PAST twice|double|triple|treble PRON_POSS|the|a? * dose|doses|amount|MED",
        "TAKE_PAST|gave * NUM times PRON_POSS|the|his|her dose",
        "TAKE_PAST PRON_POSS * dose NUM times",
        "TAKE_PAST PRON_POSS * dose twice|thrice",
        "TAKE_PAST|gave PRON_OBJ|PRON_POSS * * * twice by mistake",
        "doubled up",
    ],
    "TOOK_COUNT": ["TAKE_PAST|gave about|around|like|maybe|over|nearly|almost|roughly|approximately|least? NUM"],
    "TOOK_MG": ["TAKE_PAST|gave * NUM mg|milligrams|mgs"],
    "TOOK_LOT": [
        "TAKE_PAST PRON_POSS|a|the|an? whole|entire|full * * MED|CONTAINER|supply|prescription",
        "TAKE_PAST a? handful|fistful",
        "TAKE_PAST a? big|large|huge handful|fistful|amount",
        "TAKE_PAST way|far|much more than",
        "TAKE_PAST a|the? bunch|load|loads|lot|lots|pile|heap of * * MED|CONTAINER",
        "TAKE_PAST all PRON_POSS|the|of * MED|CONTAINER",
        "TAKE_PAST the|all rest|remainder of * * MED|CONTAINER",
    ],
    "INSTEAD_OF": ["NUM mg|milligrams|MED? MED? instead of NUM"],
    "ON_PURPOSE": ["on purpose", "deliberately|intentionally"],
    "CHILD": [
        "CHILD_NOUN",
        "little one",
        "NUM -? year|years|yr|yrs -? old",
        "NUM -? month|months|week|weeks|day|days -? old",
        "NUM yo",
        "CHILDAGE",
    ],
    "CHILD_INGEST": [
        "swallowed|ate|eaten|chewed|chewing|drank|drunk|sucked|sucking|licked|swallow|swallowing|eating|drinking",
        "got|gotten|get|getting into|at",
        "got|gotten hold of",
    ],
    "CHILD_TOOK": ["took|taken|had * * * of? my|your|grandma|granny|nan|nanny|grandpa|grandad|mum|mom|dad|mummy|daddy|'s"],
    "CHILD_FOUND": ["found|caught PRON_POSS|the? CHILD_NOUN with|holding|eating|chewing * * * MED|CONTAINER"],
    "PILLS_MISSING": ["MED|some * BE? missing", "NUM * BE? missing"],
    # --- stopping oral baclofen
    "STOPPED": [
        "stopped|quit|stopping|quitting PRON_POSS? MED",
        "PRON_SUBJ stopped|quit it?",
        "stopped|quit|stopping taking PRON_POSS? MED",
        "came|come|coming|been|gone|went off PRON_POSS? MED",
        "ran|run|running out",
        "pump BE? empty",
        "cold turkey",
        "not had|taken any|PRON_POSS|MED",
        "no MED since|for",
        "forgot|forgotten to pack|take|bring|get|collect PRON_POSS? MED",
        "not get|collect|pick PRON_POSS prescription|refill|meds|tablets|MED",
        "missed|skipped several|few days|doses",
        "missed|skipped NUM days|doses",
    ],
    # --- pump
    "PUMP": ["pump|pumps|synchromed|itb|intrathecal|catheter|reservoir", "pump pocket"],
    "PUMP_SITE": ["incision|wound|scar|stitches|pocket"],
    # A missed or late refill names the pump by itself ("the refill was overdue").
    "REFILL_MISSED": [
        "missed|missing|skipped|forgot|late|overdue|delayed|cancelled PRON_POSS|the? pump? refill|refills|refilling",
        "refill|refills BE|got|has|have * missed|late|overdue|delayed|cancelled|forgotten|skipped",
        "refill date|day passed|gone",
        "missed|missing|skipped|forgot PRON_POSS|the? pump? refill appointment|appt",
    ],
    "PUMP_PROBLEM": [
        "not * * work|working|functioning",
        "stopped|stop|stops working",
        "ran|run|running|gone|going|is|'s|went empty|dry",
        "problem|problems|issue|issues|fault|faulty|broken|kinked|blocked|disconnected|leaking|damaged|displaced",
        "battery|batteries died|dead|flat|low|failed",
        "since|after PRON_POSS|the|an? mri|surgery|operation|scan|op",
    ],
    "ITCH": ["itch|itching|itchy|itchiness|itches|pruritus", "skin BE? crawling"],
    "TINGLE": ["tingling|tingly|tingles", "pins and needles"],
    "SPASM_BACK": [
        "SPASM BE? come|came|coming|gone? back",
        "SPASM BE|have|has? returned|returning|rebounded|rebounding",
        "spasming|spasms badly|terribly|uncontrollably|constantly",
        # nonstop spasms: "my legs won't stop jerking", "keeps jerking nonstop"
        "keep|keeps|kept jerking|spasming|twitching|kicking",
        "jerking|spasming|twitching|jerks|spasms nonstop|constantly|non-stop|continuously",
        "SPASM|jerking|jerks|twitching will|would not stop",
        "will|would not stop jerking|spasming|twitching|kicking",
        "SPASM BE? through the roof",
        "SPASM BE? back with a vengeance",
        "SPASM BE? out of control",
        "SPASM BE? * unbearable|uncontrollable|awful|horrendous|horrible|agonising|agonizing",
        "bad|severe|terrible|awful|violent SPASM",
    ],
    "LOW_BP": ["blood pressure|bp * * low|dropping|dropped|falling|fell|crashing|crashed|plummeting",
               "low blood pressure|bp"],
    "ALARM_EVENT": [
        "alarm|alarms * going|gone|went|goes off",
        "alarm|alarms BE? sounding|ringing|beeping|buzzing|sounded",
        "alarming|alarmed",
        "beeping|beeps|beeped|bleeping|bleeps|chiming",
        "making|makes|made * * * alarm|noise|noises|sound|sounds|beep|beeps|beeping|tone|tones",
        "two|double|2|dual -? tone|tones",
        "critical|urgent alarm",
    ],
    "INFECT_SIGN": [
        "red|redness|reddened|swollen|swelling|pus|oozing|weeping|discharge|infected|abscess|inflamed",
        "red streaks|lines",
        "opened up",
        "leaking|leak fluid|pus|liquid",
        "fluid|pus|liquid|stuff * * leaking|coming|oozing|draining|seeping",
    ],
    "REFILL_RECENT": [
        "after|since PRON_POSS|the|this|today|todays? pump? refill|refilled|top-up|topup",
        "turned|increased|upped|raised PRON_POSS|the pump? dose|rate",
        "pump|dose|rate BE|got * increased|raised|changed|upped|adjusted",
    ],
    "KIDNEY": ["kidney|kidneys|renal|dialysis|haemodialysis|hemodialysis|ckd|esrd|nephropathy"],
    # --- newborn
    "INFANT": [
        "newborn|newborns|neonate|infant|baby",
        "new born",
        "NUM -? day|days|week|weeks -? old",
        "week|weeks|day|days old",
        "born yesterday|today|last",
    ],
    "INFANT_SIGN": [
        "jittery|jitters|jittering|jitteriness|twitching|twitchy|twitches|trembling|tremor|tremors|trembles|shaking|shaky|shakes|floppy",
        "jerky|jerking|jerks movements?",
        "stiff|rigid",
        "tight muscles",
        "SEIZURE_N|seizing|convulsing|fitting",
        "not feeding|feed",
    ],
    # --- sedation from a combination: another sedating substance plus a dangerous sign
    "SEDATIVE": [
        "oxycodone|oxy|oxycontin|percocet|morphine|tramadol|codeine|fentanyl|hydrocodone|vicodin|methadone|heroin",
        "xanax|alprazolam|valium|diazepam|ativan|lorazepam|klonopin|clonazepam|benzo|benzos",
        "ambien|zolpidem|zopiclone|gabapentin|pregabalin|lyrica",
        "vodka|whisky|whiskey|gin|rum|alcohol|drinks|booze|wine|beer|beers|pints|pint",
        "sleeping pill|pills|tablet|tablets",
    ],
    "DROWSY_DANGER": [
        "going|gonna to? pass|black out",
        "going|gonna to? faint",
        "barely|hardly|not stay|keep awake",
        "struggling|struggle|fighting to stay|keep awake",
        "keep|keeps|kept nodding|dozing off",
        "hardly|barely|not stand",
        "barely|hardly|not keep PRON_POSS eyes open",
    ],
    # "if I took my whole month's supply would I die": together, a self-harm question
    "WHOLE_SUPPLY": ["took|take|taking|swallowed|swallow PRON_POSS|the|a whole|entire * * MED|CONTAINER|supply|lot|stash|prescription"],
    "DIE_Q": ["would|will|could|can PRON_SUBJ die", "kill|killed me|PRON_REFL", "be fatal|lethal|deadly"],
    # --- self-harm
    "SELF_HARM": [
        "kill|killing|kills|killed me|PRON_REFL",
        "end|ending PRON_POSS life|lives",
        "end|ending it all",
        "end|ending things|everything",
        "take|taking PRON_POSS own life",
        "want|wanna|wants|wanted|wish|wishing to? die",
        "wish|wished PRON_SUBJ was|were dead",
        "not want|wanna to? be? alive|live|here|exist|around anymore",
        "not want|wanna to? go on|wake up",
        "suicide|suicidal",
        "planning|plan|plans|going|gonna|want|wanna|thinking|decided|intend|intending to|of|about? overdose|od|overdosing",
        "planning|plan|going|gonna|want|wanna|thinking|decided|intend to|of|about? take|taking|swallow|swallowing all|every PRON_POSS|the|of * MED|CONTAINER",
        "hurt|harm|harming|hurting PRON_REFL",
        "self -? harm|harming",
        "better off dead",
        "no reason to live",
        # passive and indirect: not waking up, being a burden, saving up pills, goodbyes
        "hope|hoping|wish|pray PRON_SUBJ * not|never wake|waking up",
        "sleep and * not|never wake|waking up",
        "to not|never wake|waking up",
        "take|swallow * * to not|never wake up",
        "better off without me",
        "better|happier|easier off? if PRON_SUBJ was|were|am gone|dead",
        "better|happier|easier off? if PRON_SUBJ * was|were|did|do not here|around|alive|exist",  # NORM of "did" is "do"
        "better|easier to not|never be here|alive|around|anymore",
        "better|easier to not|never exist",
        "notice|care if PRON_SUBJ was|were gone|dead",
        "miss me if PRON_SUBJ was|were gone|dead",
        "i BE * a burden",
        "i BE * burden to|on everyone|everybody|them|my|her|him",
        "stockpiling|stockpile|stockpiled|hoarding|hoard|hoarded|stashing|stashed PRON_POSS? MED",
        "saving|saved|collecting|collected up PRON_POSS? MED",
        "this is goodbye",
        "goodbye forever|everyone|world",
        "goodbye|suicide letter|letters|note|notes",
        "not be here much|for? long|longer",
        "giving|given|gave|give * * things|stuff|belongings|possessions away",
        "point in|of carrying|going on",
        "point in|of living|life|anything",
        "point in|of being alive",
        "want|wanted|wish it all to? stop|end|over",
        "want|wanna|wish to? disappear|vanish",
        "not keep going|living",
        "not go|carry on like this",
        "not go|carry on anymore",
        "not go|carry on any longer",
        "not do this anymore",
        "not do this any longer",
        "not want|wanna to? live like this",
        "not want|wanna to? go|carry on like this",
        "think|thinking|thought about|of taking|swallowing all|every * MED|CONTAINER",
        "think|thinking|thought about|of taking|swallowing the|my|a whole|entire MED|CONTAINER|supply|lot",
        "lethal|fatal|deadly dose|amount|overdose",
        "how many|much * * * * to kill|die",
        "enough to end|kill",
        "not cope anymore",
        "not cope any longer",
        "not take it anymore",
        "sleep|asleep forever",
        "asleep and * not|never wake|waking up",
        "giving|give|given|gave up on everything|life|living",
        "life BE not worth",
        "had enough of living|life",
        "loves|love me and BE? sorry",
        "thinking|planning|going|gonna|want|wanna of|about|to? take|taking|swallow|swallowing PRON_POSS|the whole|entire MED|CONTAINER|supply|lot|stash",
        "took|taken|swallowed|had extra|more|lots|loads on purpose",
        "took|taken|swallowed|had extra|more|lots|loads deliberately|intentionally",
        "going|gonna|want|wanna|will to? end it",
        "care|notice|matter if PRON_SUBJ * took|take|swallowed all|every",
        "no|nobody one? would|will|d care|notice if PRON_SUBJ * took|take|swallowed|was|were|died|disappeared",
        "be PRON_POSS last message|words|goodbye",
        "cut|cutting|burned|burning PRON_REFL",
        "tired|sick of being alive",
        "tired|sick of living|life",
        "want|wanted|wish it to be over",
        "least painful way|method",
        "painless way|method to? die|go",
        "not going|gonna to be around|here much|for? longer|long",
        "if PRON_SUBJ * not wake up * * * fine|ok|okay|good",
        "nothing|nobody to live for",
        "no way out",
        "not see a way out",
        "hurt|painful to overdose|od",
        "not being here|alive anymore|any",
        "thinking|thought about not being here|alive|around",
        "planning|plan|going|gonna to take them|it all",
        "not safe on PRON_POSS own|alone",
        "not feel safe on PRON_POSS own|alone",
        "not trust PRON_REFL",
        "locked|locking PRON_REFL in * * * * with",
        "how many|much * * it takes|take to overdose|od|die",
        "relieved|happier|better if PRON_SUBJ * was|were|did|do not around|here|alive",
        "said|saying PRON_POSS goodbyes",
    ],
    # --- an emergency stated outright
    "EMERGENCY_SAID": [
        "emergency|ambulance|paramedics",
        "call|calling|ring|get|need|send 911|999|112|000",
        "help|helps BE? now|quick|quickly|asap|urgently|immediately",
        "urgent help",
        "happening now",
    ],
    # --- cues that make other hits hypothetical / general / past
    "CUE_IF": ["if|whether|suppose|supposing|incase", "in case", "what happens|happened",
               "what would|will|could happen"],
    "CUE_WHEN": ["when"],
    "CUE_CAUSE": ["cause|causes|causing", "lead|leads to", "trigger|triggers",
                  "result|results in"],
    "CUE_CLAUSE": ["sign|signs|symptom|symptoms|risk|risks|chance|chances|danger|dangers of",
                   # "the nurse told me to look out for fever and stiffness": what to watch for
                   "look|looking|watch|watching out for", "watch|watching for", "keep an eye out",
                   "told|tell|warned|advised me|us to? look|watch",
                   "warning signs", "side effect|effects", "side-effect|side-effects|sideeffects",
                   "mean|means|meaning|meant", "leaflet|label|listed|section|monograph",
                   "in general", "count|counts as"],
    "CUE_PAST": ["NUM? years|year|months|decades ago", "as a child|kid|teenager",
                 "when PRON_SUBJ was|were young|little|a", "in the past", "used to",
                 "history of", "last year", "years back", "not since", "before|previously",
                 "last summer|winter|spring|autumn|month", "a long time ago", "long ago",
                 "never happens|happen again"],
    # --- word uses that are not what the concept means
    "EXCLUDE_PUMP": ["breast|insulin|stomach|bike|bicycle|tyre|tire|fuel|water pump", "pump up|iron"],
    "EXCLUDE_TOO_MANY": ["too much|many to drink|eat",
                         "too much|many alcohol|wine|beer|coffee|caffeine|sugar|food|exercise|sun"],
    "EXCLUDE_CONFUSED": ["ran|run|running|runs out of it",
                         "confused|confusing|confusion about|by|as|over|regarding|with|on|how|what|why|which|whether|if"],
    "EXCLUDE_UNRESPONSIVE": ["i|'m|m|am * hard|difficult|impossible to wake|rouse",
                             "knocked|knocks|knock me|him|her out cold?",  # "the first dose knocked me out"
                             "passed|pass out on the sofa|couch|bed",  # fell asleep
                             "find|finding|found it * hard|difficult|impossible to wake|rouse",
                             "i|we will|would|do|does|did|can|could not wake|waking up",
                             "not respond|responding|responsive|react|reacting to * MED|treatment|therapy|drug|drugs|it|dose|doses|physio|injections",
                             "not respond|responding|responsive|react|reacting well|as|like"],
    "EXCLUDE_EMERGENCY_SAID": ["emergency department|room|services|number|numbers|contact|contacts|care|line|kit|plan|card|cards|id|bracelet|info|information|letter|protocol|instructions|advice|supply|pack",
                               "in an|the? emergency|emergencies",
                               "a&e|emergency or|and"],
    "EXCLUDE_BREATHING": ["breathe|breathing through PRON_POSS? nose"],
    # "the pain is killing me", "my back is killing me": a figure of speech
    "EXCLUDE_SELF_HARM": ["BE killing|kills me", "pain|back|legs|spasms|cramps killing me"],
    "EXCLUDE_INFECT_SIGN": ["red light|lights|button|flash"],
    # "the alarm went off but the nurse checked it": already handled
    "EXCLUDE_ALARM_EVENT": ["alarm|alarms * went|gone|going|goes off but|and * * * checked|fixed|reset|silenced|sorted"],
}

SELF_HARM_CONCEPTS = {"SELF_HARM", "WHOLE_SUPPLY", "DIE_Q"}
CUE_CONCEPTS = {"CUE_IF", "CUE_WHEN", "CUE_CAUSE", "CUE_CLAUSE", "CUE_PAST"}

# Words whose misspellings the pipeline's spelling component should fix.
SPELLING_WORDS: Tuple[str, ...] = BACLOFEN_NAMES + (
    "seizure", "seizures", "seizing", "convulsing", "convulsion", "convulsions", "breathing",
    "breathe", "unconscious", "unresponsive", "hallucinating", "hallucinations", "swallowed",
    "tablets", "overdose", "overdosed", "alarming", "beeping", "newborn", "jittery",
    "suicidal", "suicide", "dialysis", "kidney", "kidneys", "confused", "confusion", "rigid",
    "fever", "feverish", "floppy", "twitching", "trembling", "itching", "itchy", "tingling",
    "spasticity", "spasms", "temperature", "stiffness", "drowsy", "sleepy", "incision",
    "catheter", "intrathecal", "synchromed", "toddler", "daughter", "granddaughter",
    "grandson", "accidentally", "handful", "whole", "bottle", "unrousable", "collapsed",
    "responding", "haemodialysis", "hemodialysis", "muddled",
)

_TEMP_REGEX = r"^\d{2,3}(\.\d+)?(c|f|°c|°f|°)?$"
_CHILDAGE_REGEX = r"^(1[0-7]|[0-9])(yo|y\.o|yr|yrs|yro)$"


def _token_spec(part: str, words_by_class: Dict[str, Tuple[str, ...]]) -> dict:
    optional = part.endswith("?") and len(part) > 1
    part = part[:-1] if optional else part
    if part == "*":
        return {"OP": "?"}
    if part == "NUM":
        spec: dict = {"LIKE_NUM": True}
    elif part == "TEMPNUM":
        spec = {"NORM": {"REGEX": _TEMP_REGEX}}
    elif part == "CHILDAGE":
        spec = {"NORM": {"REGEX": _CHILDAGE_REGEX}}
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


def compile_pattern(text: str, words_by_class: Optional[Dict[str, Tuple[str, ...]]] = None) -> List[dict]:
    """Turn one line of the pattern mini-language into a spaCy Matcher pattern."""
    return [_token_spec(part, words_by_class or WORDS) for part in text.split()]


def lexicon_baclofen_names(nlp: Language) -> Tuple[str, ...]:
    """One-word names of baclofen in the pipeline's lexicon ("baclofin", "lioresal")."""
    if "entity_ruler" not in nlp.pipe_names:
        return ()
    names = {p["pattern"] for p in nlp.get_pipe("entity_ruler").patterns
             if p.get("label") == "BACLOFEN" and isinstance(p.get("pattern"), str)}
    return tuple(sorted(n for n in names if " " not in n))


# --------------------------------------------------------------------------- numbers


def _number(token_norm: str) -> Optional[float]:
    text = token_norm.rstrip("cf°")
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return NUMBER_WORDS.get(token_norm)


def _numbers_in(span: Span) -> List[float]:
    values = []
    for token in span:
        value = _number(token.norm_) if (token.like_num or re.match(_TEMP_REGEX, token.norm_)) else None
        if value is not None:
            values.append(value)
    return values


def _took_count(doc: Doc, span: Span, med: Set[str]) -> bool:
    """"took 15 of her tablets": five or more of something, not a daily total."""
    numbers = _numbers_in(span)
    if not numbers or numbers[-1] < 5 or span.end >= len(doc):
        return False
    following = doc[span.end]
    if following.norm_ not in {"of", "instead", "x"} | med:
        return False
    window = {t.norm_ for t in doc[span.end:span.end + 6]}
    return not window & {"day", "daily", "week", "today", "days"}


def _took_mg(doc: Doc, span: Span, med: Set[str]) -> bool:
    numbers = _numbers_in(span)
    window = {t.norm_ for t in doc[span.end:span.end + 4]}
    return bool(numbers) and numbers[-1] > 80 and not window & {"day", "daily", "week"}


def _instead_of(doc: Doc, span: Span, med: Set[str]) -> bool:
    """"8 instead of 1", "40mg instead of 10mg": more than meant, given or taken."""
    numbers = _numbers_in(span)
    if len(numbers) < 2 or numbers[0] <= numbers[-1]:
        return False
    before = {t.norm_ for t in doc[span.sent.start:span.start]}
    return bool(before & set(WORDS["TAKE_PAST"] + ("given", "accidentally", "mistake")))


def _fever_num(doc: Doc, span: Span, med: Set[str]) -> bool:
    numbers = _numbers_in(span)
    return bool(numbers) and (38 <= numbers[-1] <= 45 or 100.4 <= numbers[-1] <= 110)


def _child_age(doc: Doc, span: Span, med: Set[str]) -> bool:
    if span[-1].norm_ == "old" or any(t.norm_ in ("yo", "year", "years", "yr", "yrs") for t in span):
        numbers = _numbers_in(span)
        return not numbers or numbers[0] < 18
    return True


def _past_cue(doc: Doc, span: Span, med: Set[str]) -> bool:
    """"before"/"previously" mark history only at the end of a clause ("had fits before")."""
    if span.text.lower() not in ("before", "previously"):
        return True
    return span.end >= len(doc) or doc[span.end].norm_ in NEGATION_BREAKS


_INGESTED = set(WORDS["CONTAINER"]) | {"some", "one", "any", "couple", "few"}


def _child_ingest(doc: Doc, span: Span, med: Set[str]) -> bool:
    """An eating/swallowing verb only counts with a medicine-like object soon
    after it in the same clause ("got into my pills", not "got into trouble")."""
    reach = 6 if span[0].norm_ not in ("got", "gotten", "get", "getting") else 3
    for i in range(span.end, min(span.end + reach, span.sent.end)):
        token = doc[i]
        if token.norm_ in CLAUSE_ENDS:
            return False
        own = token.norm_ in ("his", "her", "their") and i + 1 < len(doc) and doc[i + 1].norm_ in med
        if own:  # "swallowed his tablet whole": the child's own medicine
            return False
        if token.norm_ in med or token.norm_ in _INGESTED or token.like_num:
            return True
    return False


# Extra checks on a match; `med` is the detector's set of medicine words.
VALIDATORS: Dict[str, Callable[[Doc, Span, Set[str]], bool]] = {
    "TOOK_COUNT": _took_count,
    "TOOK_MG": _took_mg,
    "INSTEAD_OF": _instead_of,
    "FEVER_NUM": _fever_num,
    "CHILD": _child_age,
    "CHILD_INGEST": _child_ingest,
    "CUE_PAST": _past_cue,
}


# --------------------------------------------------------------------------- hits


@dataclass(frozen=True)
class _Hit:
    concept: str
    start: int  # token offsets
    end: int
    sent: int   # sentence index


class _Context:
    """Per-message facts used to judge whether a hit is real and current."""

    def __init__(self, doc: Doc, cues: Dict[str, List[Tuple[int, int]]]) -> None:
        self.doc = doc
        self.cues = cues
        self.sent_of = [0] * len(doc)
        self.sents: List[Span] = list(doc.sents) if len(doc) else []
        for index, sent in enumerate(self.sents):
            for i in range(sent.start, sent.end):
                self.sent_of[i] = index

    def clause_bounds(self, i: int) -> Tuple[int, int]:
        doc, sent = self.doc, self.sents[self.sent_of[i]]
        start = i
        while start > sent.start and doc[start - 1].norm_ not in CLAUSE_ENDS:
            start -= 1
        end = i
        while end < sent.end and doc[end].norm_ not in CLAUSE_ENDS:
            end += 1
        return start, end

    def negated(self, start: int) -> bool:
        doc = self.doc
        for i in range(start - 1, max(start - 5, -1), -1):
            norm = doc[i].norm_
            if norm in NEGATION_BREAKS:
                return False
            if norm in NEGATORS:
                after = doc[i + 1].norm_ if i + 1 < len(doc) else ""
                # "not sure he's breathing" is doubt; "won't stop shaking" is ongoing
                return after not in WORDS["UNCERTAIN"] and after not in ("stop", "stopping")
        return False

    def _cue_before(self, name: str, start: int, sent: Span) -> bool:
        return any(sent.start <= s < start for s, _ in self.cues.get(name, ()))

    def hypothetical(self, hit: _Hit) -> bool:
        """"if he has a seizure", "what happens when", "will my baby be jittery"."""
        doc, sent = self.doc, self.sents[hit.sent]
        # "I don't know if he swallowed any" is a real worry; "how do I know if..." is not.
        wh_question = doc[sent.start].norm_ in WH_WORDS
        for s, _ in self.cues.get("CUE_IF", ()):
            uncertain = s > 0 and doc[s - 1].norm_ in WORDS["UNCERTAIN"]
            if sent.start <= s < hit.start and (wh_question or not uncertain):
                return True
        for s, _ in self.cues.get("CUE_WHEN", ()):
            if sent.start <= s < hit.start and any(t.norm_ in WH_WORDS for t in doc[sent.start:s]):
                return True
        if doc[sent.start].norm_ in ("will", "would") and not self.dropped_subject(sent):
            return True
        return self.general_question(sent)

    @staticmethod
    def dropped_subject(sent: Span) -> bool:
        """"can't breathe", "won't wake up": a statement whose subject was left out."""
        return len(sent) > 1 and sent[1].norm_ == "not"

    def general_question(self, sent: Span) -> bool:
        """A question that names no real person: "is hallucinating common?"."""
        first, last = sent[0].norm_, sent[-1].norm_
        if (first not in QUESTION_START or self.dropped_subject(sent)) and last != "?":
            return False
        return not any(t.norm_ in WORDS["PERSONAL"] for t in sent)

    def educational(self, hit: _Hit) -> bool:
        """Cause questions, "signs of", "side effect", "what does X mean", the past."""
        sent = self.sents[hit.sent]
        if self._cue_before("CUE_CAUSE", hit.start, sent):
            return True
        clause_start, clause_end = self.clause_bounds(hit.start)
        if any(clause_start <= s < clause_end for s, _ in self.cues.get("CUE_CLAUSE", ())):
            return True
        return any(sent.start <= s < sent.end for s, _ in self.cues.get("CUE_PAST", ()))

    def live(self, hit: _Hit) -> bool:
        if self.negated(hit.start) or self.educational(hit):
            return False
        return hit.concept in SELF_HARM_CONCEPTS or not self.hypothetical(hit)


class _Hits:
    """Live hits of one message, with the queries the kind rules need."""

    def __init__(self, hits: Sequence[_Hit], mentioned: Set[str]) -> None:
        self.hits = list(hits)
        self.mentioned = mentioned  # concepts present at all (even negated)

    def get(self, *concepts: str) -> List[_Hit]:
        return [h for h in self.hits if h.concept in concepts]

    def first(self, *concepts: str) -> Optional[_Hit]:
        found = self.get(*concepts)
        return found[0] if found else None

    def pair(self, first: Iterable[str], second: Iterable[str],
             same_sentence: bool = False, ordered: bool = False) -> Optional[Tuple[_Hit, _Hit]]:
        for a in self.get(*first):
            for b in self.get(*second):
                if same_sentence and a.sent != b.sent:
                    continue
                if ordered and a.start > b.start:
                    continue
                return a, b
        return None


# --------------------------------------------------------------------------- kinds

OD_INGEST = ("TOO_MANY", "TOOK_COUNT", "TOOK_MG", "TOOK_LOT", "OVERDOSED", "INSTEAD_OF")
ORAL_WITHDRAWAL_SIGNS = ("HALLUC", "SEIZURE_EVENT", "CONFUSED", "FEVER", "FEVER_NUM", "RIGID")
PUMP_WITHDRAWAL_STRONG = ("ITCH", "TINGLE", "SPASM_BACK", "LOW_BP")
FEVERS = ("FEVER", "FEVER_NUM")
# Signs that matter with what was said before ("my pump ran out" … "now I have a fever").
SIGN_CONCEPTS = frozenset(ORAL_WITHDRAWAL_SIGNS + PUMP_WITHDRAWAL_STRONG + (
    "BREATHING", "UNRESPONSIVE", "VERY_DROWSY", "FLOPPY", "INFECT_SIGN", "STIFF_NECK", "HEADACHE_BAD",
    "DROWSY_DANGER"))


def _kind_hits(h: _Hits) -> Dict[str, List[_Hit]]:
    """Which kinds fire, each with the hits that made it fire."""
    found: Dict[str, List[_Hit]] = {}

    def add(kind: str, *hits: Optional[_Hit]) -> None:
        if kind not in found and all(hits):
            found[kind] = [hit for hit in hits if hit]

    def both(pair: Optional[Tuple[_Hit, _Hit]]) -> Tuple[Optional[_Hit], ...]:
        return pair if pair else (None,)

    pump = h.first("PUMP")
    pump_mentioned = "PUMP" in h.mentioned

    add("self_harm", h.first("SELF_HARM"))
    add("self_harm", h.first("WHOLE_SUPPLY"), h.first("DIE_Q"))
    if h.get("ON_PURPOSE"):
        add("self_harm", h.first("ON_PURPOSE"), h.first(*OD_INGEST))

    add("newborn", *both(h.pair(["INFANT"], ["INFANT_SIGN", "SEIZURE_EVENT"], same_sentence=True)))

    child_pair = h.pair(["CHILD"], ["CHILD_INGEST", "CHILD_TOOK", *OD_INGEST],
                        same_sentence=True, ordered=True)
    add("child_ingestion", *both(child_pair))
    add("child_ingestion", h.first("CHILD_FOUND"))
    if h.get("CHILD"):
        add("child_ingestion", h.first("CHILD"), h.first("PILLS_MISSING"))

    if not pump_mentioned:
        add("withdrawal_oral", h.first("STOPPED"), h.first(*ORAL_WITHDRAWAL_SIGNS))

    add("pump_withdrawal", pump, h.first(*PUMP_WITHDRAWAL_STRONG))
    add("pump_withdrawal", pump, h.first("PUMP_PROBLEM", "REFILL_MISSED", "ALARM_EVENT", "STOPPED"),
        h.first(*ORAL_WITHDRAWAL_SIGNS))
    # A missed refill is a pump by itself: with any withdrawal sign it is an emergency.
    add("pump_withdrawal", h.first("REFILL_MISSED"), h.first(*ORAL_WITHDRAWAL_SIGNS, *PUMP_WITHDRAWAL_STRONG))
    add("pump_withdrawal", h.first("REFILL_MISSED"))  # a missed refill alone (issue 14: one strong sign)
    add("pump_withdrawal", pump, h.first(*FEVERS))  # fever in a pump user: withdrawal or infection

    add("pump_infection", h.first("PUMP", "PUMP_SITE"), h.first("INFECT_SIGN"))
    add("pump_infection", pump, h.first(*FEVERS), h.first("STIFF_NECK", "HEADACHE_BAD"))
    add("pump_infection", pump, h.first("STIFF_NECK"), h.first("HEADACHE_BAD"))  # meningitis signs

    add("kidney_confusion", h.first("KIDNEY"), h.first("CONFUSED", "VERY_DROWSY", "HALLUC"))
    add("unresponsive", h.first("UNRESPONSIVE"))
    add("breathing", h.first("BREATHING"))
    add("seizure", h.first("SEIZURE_EVENT"))

    if "child_ingestion" not in found:
        add("overdose", h.first(*OD_INGEST))
    add("overdose", h.first("REFILL_RECENT"), h.first("FLOPPY", "VERY_DROWSY"))
    add("overdose", pump, h.first("FLOPPY"))  # floppiness in a pump user: too much baclofen
    add("overdose", h.first("FLOPPY"), h.first("VERY_DROWSY"))

    add("pump_alarm", pump, h.first("ALARM_EVENT"))
    # "had baclofen and oxycodone and now I'm going to pass out"
    add("overdose", h.first("SEDATIVE"), h.first("DROWSY_DANGER"))
    add("fever_rigidity", h.first(*FEVERS), h.first("RIGID", "CONFUSED"))
    if not found:
        add("general", h.first("EMERGENCY_SAID"))
    return found


# --------------------------------------------------------------------------- detector


class RedFlagDetector:
    """Red-flag rules over a loaded spaCy pipeline (built by nlp.build_pipeline)."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        words = dict(WORDS)
        words["MED"] = tuple(sorted(set(WORDS["MED"]) | set(lexicon_baclofen_names(nlp))))
        self.med = set(words["MED"])
        self.matcher = Matcher(nlp.vocab, validate=True)
        for concept, lines in CONCEPTS.items():
            self.matcher.add(concept, [compile_pattern(line, words) for line in lines])

    def detect(self, text: str) -> List[RedFlag]:
        """Red flags in a message, most specific first; [] on any odd input."""
        try:
            if not isinstance(text, str) or not text.strip():
                return []
            return self.detect_doc(parse(self.nlp, text[:MAX_CHARS]))
        except Exception:  # a safety check must never take the bot down
            logger.exception("red-flag detection failed; treating message as ordinary")
            return []

    def conditional(self, text: str) -> List[str]:
        """Kinds a message asks about without describing them happening now ("what should I
        watch for after a refill?", "what if my pump alarm beeps?"): the red-flag words are
        there, but only as a hypothetical, a general question or what to look out for.
        Negated ones ("no fever") do not count. [] on any odd input."""
        try:
            if not isinstance(text, str) or not text.strip():
                return []
            doc = parse(self.nlp, text[:MAX_CHARS])
            hits, context, mentioned = self._hits(doc)
            live = _kind_hits(_Hits([h for h in hits if context.live(h)], mentioned))
            present = _kind_hits(_Hits([h for h in hits if not context.negated(h.start)], mentioned))
            return [k for k in PRIORITY if k in present and k not in live and k != "general"]
        except Exception:
            logger.exception("conditional red-flag check failed; treating message as ordinary")
            return []

    def signs(self, text: str) -> List[str]:
        """Warning signs a message names and does not negate ("now I have a fever"), even
        when no rule fires on them alone. [] on any odd input."""
        try:
            if not isinstance(text, str) or not text.strip():
                return []
            hits, context, _ = self._hits(parse(self.nlp, text[:MAX_CHARS]))
            return list(dict.fromkeys(h.concept for h in hits
                                      if h.concept in SIGN_CONCEPTS and not context.negated(h.start)))
        except Exception:
            logger.exception("red-flag sign check failed")
            return []

    def _hits(self, doc: Doc) -> Tuple[List[_Hit], "_Context", Set[str]]:
        raw: Dict[str, List[Tuple[int, int]]] = {}
        for match_id, start, end in self.matcher(doc):
            concept = self.nlp.vocab.strings[match_id]
            validator = VALIDATORS.get(concept)
            if validator and not validator(doc, doc[start:end], self.med):
                continue
            raw.setdefault(concept, []).append((start, end))

        cues = {name: raw.pop(name, []) for name in CUE_CONCEPTS}
        excludes = {name[len("EXCLUDE_"):]: raw.pop(name) for name in list(raw)
                    if name.startswith("EXCLUDE_")}
        context = _Context(doc, cues)
        hits: List[_Hit] = []
        for concept, spans in raw.items():
            for start, end in spans:
                if any(s < end and start < e for s, e in excludes.get(concept, ())):
                    continue
                hits.append(_Hit(concept, start, end, context.sent_of[start]))
        hits.sort(key=lambda hit: (hit.start, -hit.end))
        return hits, context, {hit.concept for hit in hits}

    def detect_doc(self, doc: Doc) -> List[RedFlag]:
        hits, context, mentioned = self._hits(doc)
        live = _Hits([hit for hit in hits if context.live(hit)], mentioned)

        flags = []
        found = _kind_hits(live)
        for kind in PRIORITY:
            if kind in found:
                used = found[kind]
                start = min(doc[hit.start].idx for hit in used)
                last = doc[max(hit.end for hit in used) - 1]
                end = last.idx + len(last.text)
                flags.append(RedFlag(kind, doc.text[start:end], start, end))
        return flags


_DETECTORS: Dict[int, RedFlagDetector] = {}


def detector_for(nlp: Language) -> RedFlagDetector:
    """One detector per loaded pipeline (the Rasa component shares its pipeline)."""
    key = id(nlp)
    if key not in _DETECTORS:
        _DETECTORS[key] = RedFlagDetector(nlp)
    return _DETECTORS[key]


def default_detector() -> RedFlagDetector:
    """Detector over the pipeline at $BACLOFEN_SPACY_PATH (default build/spacy/baclofen_nlp)."""
    from nlp.pipeline import load_pipeline  # late import: the build imports this module

    return detector_for(load_pipeline())


def _default() -> Optional[RedFlagDetector]:
    """The default detector, or None (logged) when the pipeline cannot be loaded: a safety
    check must never take the bot down."""
    try:
        return default_detector()
    except Exception:
        logger.exception("red-flag detector unavailable")
        return None


def detect(text: str) -> List[RedFlag]:
    """Red flags in a message using the default pipeline; [] if it cannot run."""
    detector = _default()
    return detector.detect(text) if detector else []


def detect_across(previous: str, current: str) -> List[RedFlag]:
    """Red flags that only two messages together show: "my pump ran out on Monday" … "now
    I have a fever". Kinds either message shows alone are left out (they were, or are,
    reported on their own)."""
    if not (isinstance(previous, str) and isinstance(current, str)) or not previous.strip() or not current.strip():
        return []
    alone = {f.kind for f in detect(previous)} | {f.kind for f in detect(current)}
    return [f for f in detect(f"{previous.rstrip(' .!?')}. {current}") if f.kind not in alone]


def conditional(text: str) -> List[str]:
    """Red-flag kinds a message asks about conditionally (see RedFlagDetector.conditional)."""
    detector = _default()
    return detector.conditional(text) if detector else []


def signs(text: str) -> List[str]:
    """Warning signs a message names (see RedFlagDetector.signs)."""
    detector = _default()
    return detector.signs(text) if detector else []
