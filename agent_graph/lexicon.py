"""Words as the grounding gate reads them: tokens, stems, and the concepts that may paraphrase.

A narrative sentence may use a content word only when the facts license it: the word itself (its
stem) is in the fact sentences, or it names a concept that a fact word names too ("decline" for
"fall", "broad" for "wide"). Concepts keep polarity apart on purpose: "climb" paraphrases "rise"
and never "fall", "subdued" paraphrases "low" and never "high". Function words and the words every
report uses about itself (stock, forecast, investors, suggests) are always allowed; they claim
nothing. Everything else, an event, a person, a cause, an opinion, a number word, must be in the
facts, so the gate is an allowlist: the next invented thing is dropped whatever its kind.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer

_STEMMER = SnowballStemmer("english")

# Words and contractions; a hyphenated word is read part by part ("walk-forward").
_TOKEN = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:'[A-Za-z]+)?|\d+(?:[.,]\d+)*%?")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Function words: they bind claims together but make none.
STOPWORDS = _set(
    """
    a an the of to in on at for by with from over under into onto about across within inside
    outside through during before after around between among against per via than then and or
    but nor yet while whereas although though also as if whether it its itself this that these
    those there here which who whom whose what where when how is are was were be been being am
    has have having had do does did doing done such same other another any some each every
    both either all most more much many so just only even still already again too very quite
    rather fairly somewhat really s its' up out off
    """
)

# Negations flip the value of what they govern.
NEGATIONS = _set(
    """
    not no never none nothing neither nor without cannot n't nobody nowhere lack lacks lacked
    lacking absent fail fails failed failing unable
    """
)

# Words every report uses about itself; they add no claim. Modal hedges are allowed ("may",
# "could"); "will" is not: a flat "will" states a certainty no forecast has.
GENERIC = _set(
    """
    stock stocks share shares price prices company's company report reports analysis forecast
    forecasts forecasting model models modelled modeled investor investors reader readers
    holder holders shareholder shareholders view picture signal signals data evidence figure
    figures measure measures reading readings overall currently current now latest recent
    recently meanwhile however instead suggest suggests suggested indicate indicates indicated
    show shows showed shown point points pointed mean means meant remain remains remained stay
    stays stayed look looks looked appear appears appeared seem seems seemed note notes noted
    sit sits stand stands stood put puts say says said tell tells read reads find finds found
    give gives may might could can should would term terms level levels side part whole basis
    way ways kind sort case particular particularly generally general broadly largely mostly
    somewhat its their our they them it simply relative relatively compared comparison we turn
    turns turned best carry carries carried away round roughly approximately nearly adopt
    adopts adopted take takes taking took hold holds move moves moving movement candidate
    candidates sign signs enough run runs ran perform performs performed conduct conducted
    exist exists existed proved proves proven single conventionally surround surrounds
    surrounded land lands landed risk risks flag flags flagged list lists listed despite
    detect detects detected observe observes observed time times occasion occasions least
    accompany accompanies accompanied screen screens screened beyond standard standards
    think thinks thought believe believes reckon reckons feel feels deem deems regard
    regards come comes came go goes went gone get gets got make makes made keep keeps kept
    leave leaves left lie lies place places mark marks sum sums summarise summarize include
    includes included contain contains cover covers covered describe describes described
    mention mentions mentioned match matches matched fit fits align aligns apart alongside
    consistent bring brings brought receive receives received
    together altogether plain simple short brief briefly word words everyday basically
    essentially effectively mainly amount degree extent bit lot typically usually normally
    guess guesses longer display displays show saw pending awaiting gauge gauged measure
    measured judge judged occasionally often sometimes moment technical technically back open
    question inform informs informed according
    """
)

# Paraphrase classes. A word names every class it is listed in; it is licensed when the facts
# name one of them. Classes are kept narrow so that licensing never crosses a polarity.
CONCEPTS: dict[str, str] = {
    # the price's direction and the size of the move
    "up": "rise rises rising rose risen climb climbs climbing climbed gain gains gaining gained "
    "increase increases increasing increased advance advances advancing advanced higher upward "
    "upwards upside grow grows growing grew appreciate appreciates appreciation uptick firm "
    "firmer firms lift lifts strengthen strengthens edge",
    "down": "fall falls falling fell fallen decline declines declining declined drop drops "
    "dropping dropped decrease decreases decreasing decreased lower lowers downward downwards "
    "downside dip dips dipping dipped slip slips slipping slipped slide slides sliding slid "
    "retreat retreats retreating retreated ease eases easing eased weaken weakens weakening "
    "weakened lose loses losing lost loss losses shed sheds soften softens softening edge",
    "flat": "change changes unchanged flat steady stable sideways hover hovers hovering little",
    "small": "small smaller slight slightly modest modestly minor mild mildly little marginal "
    "marginally limited",
    "moderate": "moderate moderately medium middling",
    "large": "large larger big bigger sharp sharply substantial substantially major steep steeply "
    "considerable considerably sizeable sizable",
    # what the model does
    "expect": "expect expects expected expecting expectation expectations anticipate anticipates "
    "anticipated project projects projected projection projections predict predicts predicted "
    "prediction predictions foresee foresees estimate estimates estimated likely probable call "
    "calls outlook envisage envisages see sees seen",
    "move": "move moves moving movement movements path trajectory direction course",
    # time
    "future": "next coming ahead upcoming following forthcoming",
    "past": "last past previous prior recent recently lately",
    "period": "week weeks weekly month months monthly year years day days session sessions",
    # uncertainty band
    "band": "band bands range ranges interval intervals spread bounds width breadth uncertainty "
    "uncertain",
    "wide": "wide wider widely broad broader broadly generous loose",
    "narrow": "narrow narrower tight tighter contained",
    "outcome": "outcome outcomes result results",
    # the stance
    "stance": "stance stances tilt tilts leaning lean leans",
    "bullish": "bullish bull optimistic positive constructive",
    "bearish": "bearish bear pessimistic negative cautious",
    "neutral": "neutral balanced",
    # backtest and skill
    "tested": "backtest backtests backtested backtesting test tests tested testing evaluation "
    "evaluated record",
    "walk": "walk forward rolling",
    "naive": "naive baseline benchmark simple repeat repeats repeating repeated yesterday's "
    "persistence",
    "beat": "beat beats beaten outperform outperforms outperformed better skill skills skilled "
    "edge advantage improve improves improved improvement superior",
    "accuracy": "accuracy accurate precise precision reliability reliable",
    "significant": "significant significance statistically statistical meaningful meaningfully "
    "margin",
    "serve": "serve serves served serving use uses used using rely relies relied",
    "unknown": "unknown unclear unproven untested unmeasured",
    # advice
    "treat": "treat treated treating regard regarded consider considered take taken view viewed",
    "scenario": "scenario scenarios possibility possibilities path paths case cases",
    "target": "target targets promise promises",
    "weight": "weight weigh weighs weighted lightly caution cautiously care carefully",
    # relative strength
    "index": "index indices market markets benchmark",
    "outperform": "outperform outperforms outperformed outperforming beat beats ahead better "
    "stronger outpaced outpace led lead leads",
    "underperform": "underperform underperforms underperformed underperforming lag lags lagged "
    "lagging trail trails trailed trailing behind weaker worse",
    # volatility
    "volatility": "volatility volatile swing swings fluctuation fluctuations turbulence turbulent "
    "choppy",
    "high": "high higher elevated heightened",
    "low": "low lower subdued muted calm calmer quiet quieter",
    "normal": "normal typical ordinary usual average unremarkable unexceptional",
    # volume
    "volume": "volume volumes trading traded activity turnover",
    "unusual": "unusual unusually abnormal abnormally atypical irregular",
    # news
    "news": "news headline headlines coverage press story stories",
    "tone": "tone tones sentiment",
    "good": "positive upbeat favourable favorable encouraging",
    "bad": "negative downbeat unfavourable unfavorable discouraging gloomy",
    "available": "available availability hand",
    # indicators
    "rsi": "rsi",
    "macd": "macd",
    "momentum": "momentum",
    "overbought": "overbought stretched",
    "oversold": "oversold",
    "middle": "middle mid midrange neutral",
    "zone": "zone zones territory region area",
    # drift
    "drift": "drift drifts drifted drifting shift shifts shifted shifting",
    "train": "train trained training learn learned learnt fitted fit set",
    "check": "check checks checked checking measure measured assess assessed examine examined "
    "compute computed unchecked unassessed unexamined unmeasured judge judged gauge gauged "
    "evaluate evaluated know knows known",
    # risk words
    "risk": "risk risks risky danger",
    "exceed": "exceed exceeds exceeding surpass beyond larger bigger greater",
    "history": "history historical past",
}

# Number words ("one" is a pronoun as often as a number): a sentence may use one only where
# the fact it restates does ("one time in five" restates the band's coverage; "five points"
# invents a figure).
NUMBER_WORDS = _set(
    """
    zero two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred thousand million billion trillion half halves double doubled triple tripled
    dozen dozens percent percentage quarter quarters third thirds
    """
)

# Certainty beyond what any forecast has; allowed only beside an expectation ("expects ... will").
CERTAINTY = _set(
    """
    will certain certainly surely sure definitely definite guaranteed guarantee undoubtedly
    inevitable inevitably bound must assured
    """
)
# Words that state a cause; a sentence may use one only where the fact it restates does.
CAUSAL = _set(
    """
    because since therefore thus hence due owing driven driving drives caused causes cause thanks
    reflecting reflects reflected consequently so given
    """
)


# Idioms read as the one word they mean, before anything else is read.
IDIOMS = (
    (re.compile(r"\bout of the ordinary\b", re.I), "unusual"),
    (re.compile(r"\b(?:stood|stands?|standing) out\b", re.I), "unusual"),
    (re.compile(r"\bso far\b", re.I), "yet"),
    (re.compile(r"\byet to\b", re.I), "not yet"),
    (re.compile(r"\brelative strength index\b", re.I), "RSI"),
    (re.compile(r"\bpencil(?:l)?ed in\b", re.I), "expected"),
    (re.compile(r"\b(?:nobody|no one) (?:yet )?knows\b", re.I), "it is unknown"),
    # "In line with the index" claims a tie with it; "in line with recent years" a normal level.
    (
        re.compile(
            r"\b(?:in line|(?:kept|keeps?|keeping) pace) with(?=(?:\s+(?:the|its|a|broad|broader|"
            r"wider|overall))*\s+(?:index|indices|market|markets|benchmark)\b)",
            re.I,
        ),
        "matched",
    ),
    (re.compile(r"\bin line with\b", re.I), "normal for"),
    (re.compile(r"\btrack record\b", re.I), "record"),
    # "Record volume": a degree of unusual volume that no fact gives (not a track record).
    (
        re.compile(
            r"\brecord(?:[- ]high|[- ]breaking)?\s+(?=(?:trading\s+)?(?:volumes?|turnover)\b)",
            re.I,
        ),
        "unusually heavy ",
    ),
    (
        re.compile(
            r"\btoo (?:small|slight|little|weak|narrow|thin) to be "
            r"(?:statistically )?significant\b",
            re.I,
        ),
        "not statistically significant",
    ),
    (re.compile(r"\bfell short of (?:statistical )?significance\b", re.I), "was not significant"),
    (
        re.compile(
            r"\b(?:most (?:of the time|weeks|days|sessions|months)|more often than not|"
            r"the majority of the time)\b",
            re.I,
        ),
        "usually",
    ),
    (
        re.compile(r"\b(?:by a (?:wide|large|big|huge|broad) margin)\b", re.I),
        "sharply",
    ),
    (re.compile(r"\b(?:by a (?:narrow|small|slim|thin) margin)\b", re.I), "slightly"),
    (re.compile(r"\bonce (?:in|out of) (?:every )?five\b", re.I), "one time in five"),
    # "The index's best performer": a margin over it that no fact gives.
    (
        re.compile(r"\b(?:best|top|strongest)[- ]perform(?:er|ers|ing)\b", re.I),
        "sharp outperformer",
    ),
    (re.compile(r"\b(?:worst|weakest)[- ]perform(?:er|ers|ing)\b", re.I), "sharp underperformer"),
    # "Momentum is behind the forecast" names a cause; "behind the index" is a lag.
    (
        re.compile(
            r"\b(is|are|was|were) behind\b(?!\s+(?:the\s+)?(?:index|indices|market|benchmark))",
            re.I,
        ),
        r"\1 driving",
    ),
    (re.compile(r"\bas a result\b", re.I), "consequently"),
    (re.compile(r"\b(?:the|a) (?:direct )?result of\b", re.I), "caused by"),
    # "A one-to-one scenario": a ratio no fact states (a garble of "one scenario").
    (re.compile(r"\b(?:one|two|three)-(?:to|for|on|in)-(?:one|two|three)\b", re.I), "ratio"),
    (re.compile(r"\b(?:rather than|instead of)\b", re.I), ", not"),
    # "Swings should stay within recent history" denies what the facts say they may do.
    (
        re.compile(r"\b(?:stay|stays|remain|remains|keep|keeps|hold|holds) within\b", re.I),
        "not exceed",
    ),
    (
        re.compile(r"\b(?:fall|falls|falling|fell|land|lands|landing)\s+(?=outside|beyond)", re.I),
        "lie ",
    ),
    (re.compile(r"\bon track for\b", re.I), "expected to see"),
    (re.compile(r"\b(?:is|are|looks?|appears?|seems?) set to\b", re.I), "is expected to"),
    (re.compile(r",?\s*according to the (?:model|forecast|report)\s*,?", re.I), " "),
    (
        re.compile(r"\b(?:every so often|from time to time|now and then|at times)\b", re.I),
        "occasionally",
    ),
    (re.compile(r"\bno longer\b", re.I), "not"),
    (re.compile(r"\bgo(?:es|ing)? up\b", re.I), "rise"),
    (re.compile(r"\bgo(?:es|ing)? down\b", re.I), "fall"),
    (
        re.compile(
            r"\b(?:put simply|simply put|in (?:simple|plain|short|everyday) (?:terms|words))"
            r",?\s*",
            re.I,
        ),
        "",
    ),
    (re.compile(r"\b(?:no|without (?:a|any)?) ?doubt\b|\bfor sure\b", re.I), "certainly"),
)


def normalize(text: str) -> str:
    for pattern, word in IDIOMS:
        text = pattern.sub(word, text)
    return text


def stem(word: str) -> str:
    return _stem(word.lower())


@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    return _STEMMER.stem(word.removesuffix("'s").removesuffix("\u2019s"))


def tokens(text: str) -> list[str]:
    """The words of ``text`` in order, lower-cased, with "n't" read as its own negation."""
    out: list[str] = []
    for raw in _TOKEN.findall(text.replace("\u2019", "'")):
        word = raw.lower()
        if word.endswith("n't"):
            out += [word[:-3] or "not", "n't"]
        elif word in {"can't", "cannot"}:
            out += ["can", "not"]
        else:
            out.append(word.removesuffix("'s"))
    return out


def _concept_index() -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for concept, words in CONCEPTS.items():
        for word in words.split():
            index.setdefault(stem(word), set()).add(concept)
    return {k: frozenset(v) for k, v in index.items()}


WORD_CONCEPTS: dict[str, frozenset[str]] = _concept_index()
# Negations are read by the value rules, not licensed word by word.
_FREE = frozenset(stem(w) for w in STOPWORDS | GENERIC | NEGATIONS) | {"n't"}
NEGATION_STEMS = frozenset(stem(w) for w in NEGATIONS) | {"n't"}
CERTAINTY_STEMS = frozenset(stem(w) for w in CERTAINTY)
CAUSAL_STEMS = frozenset(stem(w) for w in CAUSAL)


def _surface_index() -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for concept, words in CONCEPTS.items():
        for word in words.split():
            index.setdefault(word, set()).add(concept)
    return {k: frozenset(v) for k, v in index.items()}


# Concepts by the exact word: stems join "typical" and "typically", which the value rules must
# not ("the zone typically read as overbought" says nothing about a normal level).
SURFACE_CONCEPTS: dict[str, frozenset[str]] = _surface_index()


def concepts_of(word_stem: str) -> frozenset[str]:
    return WORD_CONCEPTS.get(word_stem, frozenset())


def is_free(word_stem: str) -> bool:
    """A function word or one of the report's own words: it claims nothing."""
    return word_stem in _FREE and word_stem not in CERTAINTY_STEMS | CAUSAL_STEMS
