"""Three-valued (Kleene) evaluation of conditions, with the reasons behind each verdict.

This is the *explanation*: a plain, pure evaluator over the same condition tree that
the durable-rules compiler reads. The engine takes the status from durable-rules and
checks it against this evaluator on every evaluation, so the two can never silently
disagree; the batch evaluator is the third implementation of the same semantics.

Semantics (profile.md, rules.md "Readings"):
- a comparison with an unknown operand is unknown;
- ``all``: unmet if one item is unmet, met if all are met, else unknown;
- ``any``: met if one item is met, unmet if all are unmet, else unknown;
- an unknown verdict lists exactly the facts of the undecided items that could decide it.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import date, timedelta
from typing import Any

from engine.language.catalog import Catalogue
from engine.language.facts import Unknown, add_months
from engine.language.i18n import (
    CURRENCY,
    before_roc,
    calendars,
    format_date,
    format_money,
    format_number,
    format_percent,
    format_whole,
    roc_parts,
)
from engine.language.parameters import Parameter
from engine.language.profile import Profile
from engine.language.rules import (
    PLACEHOLDER,
    All,
    AnyOf,
    Arith,
    Cases,
    Compare,
    Condition,
    Const,
    DateAdd,
    Expr,
    FactRef,
    Literal,
    Not,
    ParamRef,
    SomeChild,
    Switch,
    Text,
    Unencoded,
    params_read,
)
from engine.language.semantics import Semantics

# --- evaluation environment ----------------------------------------------------------


@dataclass
class Env:
    """Everything one evaluation reads: facts in scope and the parameter table."""

    catalogue: Catalogue
    as_of: date
    facts: dict[str, Any]
    children: list[dict[str, Any]] | None  # child-scope facts per child; None = unknown
    child: dict[str, Any] | None = None  # the child in scope inside a quantifier
    child_index: int | None = None
    overrides: dict[str, list[Parameter]] = field(default_factory=dict)
    # The values of parameters read plainly (``{param: NAME}``, no ``at``, no ``key``, no
    # index): they depend on the name, the day and the residence only, all fixed for an
    # Env and its children's, so the many criteria of one profile that quote the same
    # parameter read it once. Read at another day or by a key, a value is kept under
    # (name, day, key). An Env lives for one profile: so does the memo.
    plain_params: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    child_envs: dict[int, Env] | None = field(default=None, repr=False, compare=False)

    def fact(self, path: str) -> Any:
        if path.startswith("child."):
            if self.child is None:
                raise KeyError(f"{path} read outside some_child")
            return self.child[path]
        return self.facts[path]

    def in_child(self, index: int) -> Env:
        """The environment with child ``index`` in scope: made once per child, since every
        quantifier and per-child amount of the profile reads the same one."""
        assert self.children is not None
        made = self.child_envs
        if made is None:
            made = self.child_envs = {}
        found = made.get(index)
        if found is None:
            found = made[index] = Env(
                self.catalogue,
                self.as_of,
                self.facts,
                self.children,
                self.children[index],
                index,
                self.overrides,
                self.plain_params,
            )
        return found

    def parameter(self, name: str) -> Parameter | Unknown:
        """The national parameter, or a local one that overrides it where the profile lives."""
        local = self.overrides.get(name)
        national = self.catalogue.parameters[name]
        if not local:
            return national
        residence = self.facts["residence"]
        if isinstance(residence, Unknown):
            return residence
        for candidate in local:
            if candidate.jurisdiction == residence:
                return candidate
        return national


def overrides_of(catalogue: Catalogue) -> dict[str, list[Parameter]]:
    out: dict[str, list[Parameter]] = {}
    for p in catalogue.parameters.values():
        if p.overrides:
            out.setdefault(p.overrides, []).append(p)
    return out


# --- expressions ---------------------------------------------------------------------


def _merge(values: list[Any]) -> Unknown | None:
    unknown = [v for v in values if isinstance(v, Unknown)]
    if not unknown:
        return None
    merged = unknown[0]
    for other in unknown[1:]:
        merged = merged | other
    return merged


def _round(value: Any) -> Any:
    # Four decimals everywhere: the same operand values reach durable-rules, this
    # evaluator and the batch evaluator, and none is ever printed in exponent notation.
    if isinstance(value, float):
        value = round(value, 4)
        if value.is_integer():
            return int(value)
    return value


# The explanation backend compiles each node once into a Python function of one profile's
# environment, and runs that function for every profile: the tables below map a node type
# to its compiler, so there is still one meaning per node type here (docs/rule-language.md),
# given once, but the tree is not walked and dispatched anew for every profile (measured on
# the 46 conditions of the catalogue: 0.45 ms a profile walked, 0.16 ms compiled).
Value = Callable[[Env], Any]

VALUE = Semantics(
    "explanation", "expression", "an expression compiled to the function giving its value for one profile"
)

# Compiled nodes by identity, each with its node (held, so that the id it is keyed by is
# not reused while the entry lives). Bounded: a staff draft or a test builds new trees, and
# an evicted entry is only compiled again. The engine keeps the functions of its own
# conditions itself (Engine.__init__), so its hot path does not look them up here.
COMPILED_CACHE_SIZE = 50_000


def _kept(node: Any, compiler: Semantics) -> Any:
    """The compiled function of ``node``, compiled (``compiler(node)``: the node type's
    compiler, or IncompleteSemantics naming the backend and the node) the first time."""
    found = _COMPILED.get(id(node))
    if found is not None and found[0] is node:
        return found[1]
    compiled = compiler(node)
    _COMPILED[id(node)] = (node, compiled)
    return compiled


def value_of(expr: Expr) -> Value:
    return _kept(expr, VALUE)


def eval_expr(expr: Expr, env: Env) -> Any:
    return value_of(expr)(env)


@VALUE.of(Literal)
def _literal_value(expr: Literal) -> Value:
    value = expr.value
    return lambda env: value


def fact_reader(path: str) -> Value:
    """A fact of the profile, or of the child in scope (``child.*``)."""
    if path.startswith("child."):

        def child_fact(env: Env) -> Any:
            if env.child is None:
                raise KeyError(f"{path} read outside some_child")
            return env.child[path]

        return child_fact
    return lambda env: env.facts[path]


@VALUE.of(FactRef)
def _fact_value(expr: FactRef) -> Value:
    return fact_reader(expr.path)


_ABSENT = object()


@VALUE.of(ParamRef)
def _param_value(expr: ParamRef) -> Value:
    name, given_key = expr.name, expr.key
    at = None if expr.at is None else VALUE(expr.at)
    plain = at is None and given_key is None

    def value(env: Env) -> Any:
        memo = env.plain_params
        if plain:
            found = memo.get(name, _ABSENT)
            if found is not _ABSENT:
                return found
        param = env.parameter(name)
        if isinstance(param, Unknown):
            return param
        day = env.as_of if at is None else at(env)
        if isinstance(day, Unknown):
            return day
        key = given_key
        if param.index is not None and key is None:
            key = env.fact(param.index)  # a fact, maybe the child's
            if isinstance(key, Unknown):
                return key
        elif plain:
            found = memo[name] = param.lookup(day, None)
            return found
        # A table or a day other than the answer's (a child's birth date): kept by all it
        # depends on, the parameter's name, the day and the key; the residence, which
        # chooses a local parameter, is the Env's own.
        try:
            found = memo.get((name, day, key), _ABSENT)
        except TypeError:  # an unhashable key is no row of a table: the lookup says so
            return param.lookup(day, key)
        if found is _ABSENT:
            found = memo[name, day, key] = param.lookup(day, key)
        return found

    return value


def _days_between(first: date, second: date) -> int:  # from the first date to the second
    return second.toordinal() - first.toordinal()


def _product_of(values: list[Any]) -> Any:
    out = 1
    for v in values:
        out *= v
    return out


_ARITH: dict[str, Callable[[list[Any]], Any]] = {
    "add": lambda args: _round(sum(args)),
    "mul": lambda args: _round(_product_of(args)),
    "sub": lambda args: _round(args[0] - args[1]),
    "div": lambda args: _round(args[0] / args[1]) if args[1] else Unknown(frozenset({"division by zero"})),
    "days_between": lambda args: _days_between(args[0], args[1]),
    "min": min,
    "max": max,
}


@VALUE.of(Arith)
def _arith_value(expr: Arith) -> Value:
    parts = tuple(VALUE(a) for a in expr.args)
    combine = _ARITH.get(expr.op, max)  # the loader admits only these operators

    def value(env: Env) -> Any:
        args = [part(env) for part in parts]
        unknown = _merge(args)
        return unknown if unknown else combine(args)

    return value


@VALUE.of(DateAdd)
def _date_add_value(expr: DateAdd) -> Value:
    base = VALUE(expr.base)
    shifts = tuple(
        (name, VALUE(v))
        for name, v in (("days", expr.days), ("months", expr.months), ("years", expr.years))
        if v is not None
    )

    def value(env: Env) -> Any:
        start = base(env)
        parts = {name: shift(env) for name, shift in shifts}
        unknown = _merge([start, *parts.values()])
        if unknown:
            return unknown
        return shift_date(start, parts.get("days", 0), parts.get("months", 0), parts.get("years", 0))

    return value


@VALUE.of(Cases)
def _cases_value(expr: Cases) -> Value:
    branches = tuple((VERDICT(cond), VALUE(v)) for cond, v in expr.branches)
    otherwise = None if expr.otherwise is None else VALUE(expr.otherwise)

    def value(env: Env) -> Any:
        pending: Unknown | None = None
        for verdict, then in branches:
            outcome = verdict(env, None)
            if outcome.value is True:
                return pending if pending else then(env)
            if outcome.value is None:
                pending = (pending | Unknown(outcome.missing)) if pending else Unknown(outcome.missing)
        if pending:
            return pending
        if otherwise is None:
            return Unknown(frozenset({"cases: no branch applies"}))
        return otherwise(env)

    return value


def shift_date(base: date, days: int = 0, months: int = 0, years: int = 0) -> date:
    shifted = add_months(base, int(months) + 12 * int(years))
    return shifted + timedelta(days=int(days))


# --- conditions ----------------------------------------------------------------------


@dataclass(slots=True)
class Reason:
    criterion: str
    met: bool | None
    text: str
    legal_basis: str | None
    value: Any = None
    threshold: Any = None
    missing: tuple[str, ...] = ()
    subject: str | None = None  # the fact compared, for "what would change"
    op: str | None = None
    child: int | None = None  # the child in scope, for "what would change"
    action: str | None = None  # the criterion's own action text, in the describer's language
    limit: str | None = None  # the threshold in words ("today (2026-03-01)")
    negated: bool = False  # under a `not`: meeting it counts against the service


@dataclass(slots=True)
class Outcome:
    value: bool | None
    missing: frozenset[str] = frozenset()
    reasons: tuple[Reason, ...] = ()
    witnesses: tuple[int, ...] = ()  # children that met a quantifier


_OPERATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "in": lambda left, right: left in right,
    "not_in": lambda left, right: left not in right,
}


_REASON_FIELDS = tuple(f.name for f in dataclass_fields(Reason))


def changed_reason(r: Reason, text: str | None = None, negated: bool | None = None) -> Reason:
    """``dataclasses.replace`` of a reason's text or ``negated``, without its per-call
    introspection (5 µs; a profile with children rewords dozens of reasons)."""
    return Reason(
        r.criterion,
        r.met,
        r.text if text is None else text,
        r.legal_basis,
        r.value,
        r.threshold,
        r.missing,
        r.subject,
        r.op,
        r.child,
        r.action,
        r.limit,
        r.negated if negated is None else negated,
    )


def compare(op: str, left: Any, right: Any) -> bool:
    try:
        operation = _OPERATIONS[op]
    except KeyError:
        raise ValueError(op) from None
    return operation(left, right)


# --- wording caches ------------------------------------------------------------------

# Entries per wording cache. An entry (its key and its words) takes about 0.5 KB, so a
# full cache about 10 MiB; 3,000 varied profiles leave ~8,000 worded verdicts per
# language, so a server's working set fits and hostile input only recycles entries.
WORDING_CACHE_SIZE = 20_000


class BoundedCache(dict):
    """A dict of at most ``limit`` entries: when full, the oldest quarter is forgotten.

    Reads are plain ``dict.get``s (the hot path); only a write can evict."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: Any, value: Any) -> None:
        if len(self) >= self.limit:
            # list(islice(...)) runs in C without giving up the GIL, so another thread
            # cannot change the dict while the oldest keys are listed; pop tolerates a key
            # that another thread evicted meanwhile.
            for old in list(itertools.islice(self, max(1, self.limit // 4))):
                self.pop(old, None)
        super().__setitem__(key, value)


_COMPILED: BoundedCache = BoundedCache(COMPILED_CACHE_SIZE)


def exact(value: Any) -> Any:
    """A value as part of a cache key, telling apart what ``==`` does not: ``True``, ``1``
    and ``1.0`` are equal and hash alike but are worded "yes", "1" and "1"; ``-0.0``
    equals ``0.0``; ``(True,)`` equals ``(1,)``. The type goes into the key with it.

    An unknown is keyed by what it misses, as a sorted tuple of paths: a key made of
    builtin values and tuples only is not tracked by the cyclic garbage collector, so
    however many a cache keeps, a full collection does not walk them."""
    kind = type(value)
    if kind is tuple:
        return (tuple, tuple(exact(v) for v in value))
    if kind is float and value == 0.0:
        return (float, str(value))
    if kind is Unknown:
        return ("unknown", *sorted(value.missing))
    return (kind, value)


_TOKENS = itertools.count()
_KEPT_AS_WRITTEN = ("kept",)  # a placeholder whose expression cannot be read here (KeyError)


def placeholder_readers(
    text: str, reads: dict[str, ParamRef] | None = None, values: dict[str, Expr] | None = None
) -> tuple[Value, ...]:
    """The expressions ``render_text`` reads to fill ``text``'s placeholders, compiled, in
    its order: ``{param:…}`` as ``reads`` reads it, ``{fact:…}``, and ``{value:…}`` from
    ``values`` (one not in ``values`` is kept as written and reads nothing)."""
    out: list[Value] = []
    for match in PLACEHOLDER.finditer(text):
        kind, name = match.group(1), match.group(2)
        if kind == "param":
            out.append(value_of((reads or {}).get(name) or _reference(kind, name)))
        elif kind == "fact":
            out.append(value_of(_reference(kind, name)))
        elif values and name in values:
            out.append(value_of(values[name]))
    return tuple(out)


def quoted_inputs(readers: tuple[Value, ...], env: Env, d: Describer) -> tuple[Any, ...]:
    """What a text's placeholders quote in ``env``, as a cache key of the words
    ``render_text`` makes of them: each value by ``exact``; an unknown by the words that
    name what it misses, since those name a child by its birth date, which its paths do
    not hold."""
    out: list[Any] = []
    for read in readers:
        try:
            found = read(env)
        except KeyError:
            out.append(_KEPT_AS_WRITTEN)
            continue
        if type(found) is Unknown:
            out.append(("unknown", d.facts(found.missing, env)))
        else:
            out.append(exact(found))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Wording:
    """What the sentence of one criterion reads besides its two operands, in one language:
    the expressions of the placeholders of its own text (``{param:…}``, ``{fact:…}``),
    compiled, read from the environment of each profile. Empty for a text without placeholders
    and for a criterion without text: its sentence is then a pure function of the
    criterion, the verdict and the two operands."""

    cond: Compare  # held, so that the id the entry is keyed by is not reused while it lives
    reads: dict[str, ParamRef]
    placeholders: tuple[Value, ...]
    # Names the criterion in the keys of worded verdicts: a number, never reused (unlike an
    # id), so a key holds no reference to the criterion and an evicted wording's verdicts
    # are never found again.
    token: int = field(default_factory=lambda: next(_TOKENS))


def wording_of(cond: Compare, d: Describer) -> Wording:
    found = d.wordings.get(id(cond))
    if found is not None and found.cond is cond:
        return found
    reads = params_read(cond)
    # ``{value:…}`` has no values in a criterion's text: render_text keeps it as written.
    placeholders = placeholder_readers(cond.text.get(d.lang), reads) if cond.text is not None else ()
    found = Wording(cond, reads, placeholders)
    d.wordings[id(cond)] = found
    return found


class KeptText:
    """A rule's text with placeholders (a note, a quantifier's own words), rendered once for
    every profile that quotes the same values in it, in each describer's words cache.
    Its placeholders are compiled per language, since each language's text quotes its own."""

    def __init__(
        self, text: Text, reads: dict[str, ParamRef] | None = None, values: dict[str, Expr] | None = None
    ):
        self.text = text
        self.reads = reads
        self.values = values
        self.token = next(_TOKENS)  # as a Wording's: the entries' key, never reused
        self._readers: dict[str, tuple[Value, ...]] = {}

    def render(self, env: Env, d: Describer) -> str:
        words = self.text.get(d.lang)
        readers = self._readers.get(d.lang)
        if readers is None:  # two threads may both make it: the same readers either way
            readers = self._readers[d.lang] = placeholder_readers(words, self.reads, self.values)
        key = (self.token, quoted_inputs(readers, env, d)) if readers else (self.token,)
        try:
            found = d.texts.get(key)
        except TypeError:  # an unhashable value quoted: rendered afresh, not kept
            return render_text(words, env, d, self.values, self.reads)
        if found is None:
            found = d.texts[key] = render_text(words, env, d, self.values, self.reads)
        return found


class Describer:
    """Turns criteria into sentences in one language; the words are data
    (``rules/vocabulary.yaml``): no operator, raw id or unrounded number reaches a person."""

    def __init__(self, catalogue: Catalogue, lang: str, partner: bool = False):
        self.catalogue = catalogue
        self.lang = lang
        # In the partner's view (engine/services/family.py) ``person.*`` is the partner: the facts
        # are named "your partner's …" where the vocabulary has such a label.
        self.partner = partner
        self._words: dict[str, str] = {}
        self._rewords: list[tuple[str, str]] | None = None
        # The worded verdicts of criteria (``described_compare``) and what each
        # criterion's own text reads: the same for every profile that gives the same
        # values, so kept, but bounded: a stream of profiles with ever new incomes must
        # not grow a server's memory.
        self.verdicts: BoundedCache = BoundedCache(WORDING_CACHE_SIZE)
        self.wordings: BoundedCache = BoundedCache(WORDING_CACHE_SIZE)
        # What would change an unmet criterion, in words (recommend._change), by its
        # subject, operator, threshold and limit: as bounded, for the same reason.
        self.changes: BoundedCache = BoundedCache(WORDING_CACHE_SIZE)
        # Rendered texts with placeholders (KeptText), by text and the values they quote.
        self.texts: BoundedCache = BoundedCache(WORDING_CACHE_SIZE)

    def phrase(self, key: str, **fields: Any) -> str:
        text = self.label(f"phrase.{key}", key)
        return text.format_map(fields) if fields else text

    def has(self, path: str) -> bool:
        return path in self.catalogue.labels

    def label(self, path: str, default: str | None = None) -> str:
        word = self._words.get(path)
        if word is None:
            text = self.catalogue.labels.get(path)
            if self.partner and path.startswith("person."):
                text = self.catalogue.labels.get("partner." + path[len("person.") :]) or text
            word = text.get(self.lang) if text else (default if default is not None else path)
            self._words[path] = word
        return word

    def mid(self, label: str) -> str:
        """A label inside an English sentence starts in lower case ("if household income…",
        "it needs a birth"); an acronym keeps its capitals ("NT$", "ROC")."""
        if self.lang.startswith("zh") or len(label) < 2:
            return label
        if label[1].islower() or label.startswith("A "):
            return label[0].lower() + label[1:]
        return label

    def kind(self, path: str | None) -> str | None:
        """How a fact's numbers read: ``age``, ``child_age``, ``money``, ``percent`` or None."""
        return self.label(f"kind.{path}", "") or None if path else None

    def plain(self, text: str) -> str:
        """A rule's own sentence with the project's jargon ("not encoded") said plainly."""
        if self._rewords is None:
            pairs = []
            for key in sorted(k for k in self.catalogue.labels if k.startswith("reword.")):
                old, _, new = self.label(key).partition(" → ")
                pairs.append((old, new))
            self._rewords = pairs
        for old, new in self._rewords:
            text = text.replace(old, new)
        return text

    def number(self, value: int | float, kind: str | None = None) -> str:
        """Money in whole NT$, rates as percentages, anything else to 2 decimals at most,
        all formatted by Babel in the describer's language. Display only: the engine's
        values stay exact."""
        if kind == "money":
            return self.money(value, CURRENCY)
        if kind == "percent":
            return format_percent(value, self.lang)
        return format_number(value, self.lang)

    def money(self, value: float, unit: str, signed: bool = False) -> str:
        """An amount in its unit's phrase (``phrase.money.UNIT``; plain TWD is ``phrase.money``).
        ``signed``: a change, so a rise carries its + as a fall its − (新臺幣 +1,200 元)."""
        plus = "+" if signed and value > 0 else ""
        figures = {
            "number": plus + format_whole(value, self.lang),
            "amount": plus + format_money(value, self.lang),
        }
        key = "money" if unit == CURRENCY else f"money.{unit}"
        if self.has(f"phrase.{key}"):
            return self.phrase(key, **figures)
        return self.phrase("money.other", number=figures["number"], unit=self.label(f"unit.{unit}", unit))

    def date(self, day: date, calendar: str = "gregorian") -> str:
        """A date in the language's pattern, or in the ROC era where the language has it."""
        if calendar == "roc" and "roc" in calendars(self.lang):
            key = "date.roc.before" if before_roc(day) else "date.roc"
            return self.phrase(key, **roc_parts(day, self.lang))
        return format_date(day, self.lang)

    def value(self, value: Any, kind: str | None = None) -> str:
        if isinstance(value, Unknown):
            return self.phrase("unknown")
        if isinstance(value, bool):
            return self.phrase("yes" if value else "no")
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, int | float):
            return self.number(value, kind)
        if isinstance(value, tuple):
            return self.phrase("or").join(self.value(v, kind) for v in value)
        text = self.catalogue.labels.get(f"value.{value}")
        return text.get(self.lang) if text else str(value)

    def expr(self, expr: Expr, value: Any, kind: str | None = None) -> str:
        """A threshold in words: its value, and where it comes from."""
        if isinstance(expr, FactRef) and expr.path == "as_of":
            return self.phrase("today", date=self.value(value))
        shown = self.value(value, kind)
        if isinstance(expr, ParamRef):
            param = self.catalogue.parameters.get(expr.name)
            if kind is None and param is not None and param.unit.startswith("TWD"):
                shown = self.value(value, "money")
            name = param.label.get(self.lang) if param else None
            return self.phrase("paren", text=shown, detail=name) if name else shown
        if isinstance(expr, FactRef):
            return self.phrase("paren", text=shown, detail=self.label(expr.path))
        return shown

    def child(self, env: Env, index: int) -> str:
        """A child as a person knows it: by its birth date, else by its place in the list."""
        facts = env.children[index] if env.children is not None else {}
        born = facts.get("child.birth_date")
        if isinstance(born, date):
            key = "child.born_on" if born <= env.as_of else "child.due_on"
            return self.phrase(key, date=self.date(born))
        return self.phrase("child.nth", n=index + 1)

    def fact_name(self, path: str, env: Env | None = None) -> str:
        """What a missing fact is, in words (the machine key stays in ``missing``)."""
        if path.startswith("children[") and "]." in path:
            index = int(path[len("children[") : path.index("]")])
            what = self.label("child." + path.split("].", 1)[1])
            if env is None or env.children is None or index >= len(env.children):
                return what
            return self.phrase("child.of", what=what, child=self.child(env, index))
        if path.startswith("parameters."):
            name = path[len("parameters.") :]
            while name and name not in self.catalogue.parameters:
                name = name.rpartition(".")[0]
            param = self.catalogue.parameters.get(name)
            what = param.label.get(self.lang) if param else self.phrase("value")
            key = path[len("parameters.") + len(name) + 1 :]
            if key.isdigit() and len(key) == 4:
                return self.phrase("parameter_missing_year", what=what, year=key)
            return self.phrase("parameter_missing", what=what)
        if path.startswith("rules."):
            return self.phrase("rules_missing")
        if path.startswith("events.") and path.count(".") == 1:
            return self.label(f"{path}.listed")
        return self.label(path, self.phrase("unknown"))

    def facts(self, paths: Any, env: Env | None = None) -> str:
        names: list[str] = []
        for path in sorted(paths):
            name = self.fact_name(path, env)
            if name not in names:
                names.append(name)
        return self.phrase("list_sep").join(names)

    def comparison(self, cond: Compare, left: Any, right: Any, verdict: bool | None) -> str:
        """A criterion as a sentence: the person's value and the rule's, in words."""
        path = cond.lhs.path if isinstance(cond.lhs, FactRef) else None
        subject = self.label(path) if path else self.phrase("value")
        kind = self.kind(path)
        if isinstance(cond.rhs, Literal) and isinstance(cond.rhs.value, bool) and cond.op == "eq":
            return self.phrase("compare.flag", subject=subject, value=self.value(left))
        if path == "as_of":
            variant = ".today"
        elif isinstance(left, date) or isinstance(right, date):
            variant = ".date"
        else:
            variant = ""
        if kind == "child_age" and isinstance(left, int) and left < 0:
            return self.phrase("compare.unborn")  # an expected child has no age yet
        if verdict is None:
            if isinstance(left, Unknown):
                return self.phrase("compare.unknown", subject=subject)
            key = "compare.unknown_limit" + (".today" if variant == ".today" else "")
            return self.phrase(key, subject=subject, value=self.value(left, kind))
        mark = "met" if verdict else "not_met"
        key = f"compare.{cond.op}{variant}.{mark}"
        if not self.has(f"phrase.{key}"):
            key = f"compare.{cond.op}.{mark}"
        threshold = self.expr(cond.rhs, right, kind)
        if variant == ".today" and isinstance(cond.rhs, FactRef | ParamRef):
            threshold = self.value(right)
        return self.phrase(key, subject=subject, value=self.value(left, kind), threshold=threshold)


def render_text(
    text: str,
    env: Env,
    d: Describer,
    values: dict[str, Expr] | None = None,
    reads: dict[str, ParamRef] | None = None,
) -> str:
    """Fill ``{param:NAME}``, ``{fact:PATH}`` and ``{value:NAME}`` placeholders.

    ``{param:NAME}`` is the parameter's value at the evaluation date, in the language's
    formatting; when the criterion itself reads NAME (``reads``), it is read the same way
    (``at: events.birth.date``, a table ``key``), so the sentence quotes the very figure
    the criterion compares with."""
    from engine.language.rules import PLACEHOLDER

    def value(match) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "value":
            if not values or name not in values:
                return match.group(0)
            expr = values[name]
        else:
            expr = (
                ((reads or {}).get(name) or _reference(kind, name))
                if kind == "param"
                else _reference(kind, name)
            )
        try:
            found = eval_expr(expr, env)
        except KeyError:
            return match.group(0)
        if isinstance(found, Unknown):
            # Not a bare "?": what the figure needs (a fact, or a parameter's figure for
            # a year before its first value), as an amount that is not known yet says it.
            return d.phrase("placeholder_unknown", facts=d.mid(d.facts(found.missing, env)))
        if kind == "param":
            param = d.catalogue.parameters.get(name)
            return d.value(found, "money" if param and param.unit.startswith("TWD") else None)
        return d.value(found, d.kind(name) if kind == "fact" else None)

    return d.plain(PLACEHOLDER.sub(value, text))


@functools.cache
def _reference(kind: str, name: str) -> Expr:
    return ParamRef(name) if kind == "param" else FactRef(name)


def _describe_compare(
    cond: Compare,
    left: Any,
    right: Any,
    verdict: bool | None,
    d: Describer,
    env: Env,
    reads: dict[str, ParamRef],
) -> str:
    core = d.comparison(cond, left, right, verdict)
    if cond.text is None:
        return core
    text = render_text(cond.text.get(d.lang), env, d, reads=reads)
    if isinstance(cond.lhs, FactRef) and text == d.label(cond.lhs.path):
        return core  # the rule's text is the fact's own label: say it once
    return d.phrase("explained", text=text, detail=core)


Verdict = Callable[[Env, "Describer | None"], Outcome]

VERDICT = Semantics(
    "explanation",
    "condition",
    "a condition compiled to the function giving its Kleene verdict, with its reasons",
)


def verdict_of(cond: Condition) -> Verdict:
    return _kept(cond, VERDICT)


def evaluate(cond: Condition, env: Env, describer: Describer | None = None) -> Outcome:
    """The Kleene verdict of ``cond``; with a describer, also the reasons."""
    return verdict_of(cond)(env, describer)


@VERDICT.of(Const)
def _const_verdict(cond: Const) -> Verdict:
    outcome = Outcome(cond.value)  # outcomes are never changed once made: one serves all
    return lambda env, describer: outcome


@VERDICT.of(Compare)
def _compare_verdict(cond: Compare) -> Verdict:
    lhs, rhs = cond.lhs, cond.rhs
    operation = _OPERATIONS.get(cond.op) or functools.partial(compare, cond.op)  # which names it
    if type(lhs) is FactRef and not lhs.path.startswith("child.") and type(rhs) is Literal:
        # The common shape, a fact of the profile against a literal: read inline.
        path, right = lhs.path, rhs.value
        right_key = exact(right)

        def fact_against_literal(env: Env, describer: Describer | None) -> Outcome:
            left = env.facts[path]
            if describer is not None:
                return described_compare(cond, env, describer, left, right, right_key)
            if isinstance(left, Unknown):
                return Outcome(None, left.missing)
            return Outcome(operation(left, right))

        return fact_against_literal
    left_of, right_of = VALUE(lhs), VALUE(rhs)

    def verdict(env: Env, describer: Describer | None) -> Outcome:
        left, right = left_of(env), right_of(env)
        if describer is not None:
            return described_compare(cond, env, describer, left, right)
        if isinstance(left, Unknown):
            return Outcome(None, (left | right).missing if isinstance(right, Unknown) else left.missing)
        if isinstance(right, Unknown):
            return Outcome(None, right.missing)
        return Outcome(operation(left, right))

    return verdict


def described_compare(
    cond: Compare, env: Env, d: Describer, left: Any, right: Any, right_key: Any = None
) -> Outcome:
    """The verdict of a criterion with its reason, worded once for every profile that
    gives it the same inputs.

    What the reason is made of: the criterion; the two operands (their values and
    types); the child in scope (the reason's id and ``child``); the values its own text
    quotes (``quoted_inputs``); and the describer's language and view, whose cache this
    is. The key holds each of them (the criterion by its wording's token).

    The cache keeps the reason's fields, not the reason: a tuple of strings, numbers,
    dates and tuples, which the cyclic garbage collector does not track, so that however
    many it keeps, a full collection does not walk them (a cache of Reason objects made
    each full collection ~40 times longer, 80 ms). Building the reason from its fields
    costs ~1/100 of wording it. ``right_key``: ``exact(right)`` when the caller knows it
    already (a literal threshold, made once when the criterion is compiled)."""
    wording = wording_of(cond, d)
    quoted = quoted_inputs(wording.placeholders, env, d) if wording.placeholders else ()
    try:
        key = (
            wording.token,
            env.child_index,
            exact(left),
            exact(right) if right_key is None else right_key,
            quoted,
        )
        fields = d.verdicts.get(key)
    except TypeError:  # an unhashable operand (a list): worded afresh, not kept
        key, fields = None, None
    if fields is None:
        fields = _reason_fields(cond, env, d, left, right, wording)
        if key is not None:
            d.verdicts[key] = fields
    reason = Reason(*fields)
    return Outcome(reason.met, frozenset(reason.missing), (reason,))


def _reason_fields(cond: Compare, env: Env, d: Describer, left: Any, right: Any, wording: Wording) -> tuple:
    """The fields of a criterion's reason, in ``Reason``'s order."""
    unknown = _merge([left, right])
    verdict = None if unknown else compare(cond.op, left, right)
    reason = Reason(
        criterion=cond.id if env.child_index is None else f"children[{env.child_index}].{cond.id}",
        met=verdict,
        text=_describe_compare(cond, left, right, verdict, d, env, wording.reads),
        legal_basis=cond.legal_basis,
        value=None if isinstance(left, Unknown) else left,
        threshold=None if isinstance(right, Unknown) else right,
        missing=tuple(sorted(unknown.missing)) if unknown else (),
        subject=cond.lhs.path if isinstance(cond.lhs, FactRef) else None,
        op=cond.op,
        child=env.child_index,
        action=cond.action.get(d.lang) if cond.action else None,
        limit=None if isinstance(right, Unknown) else d.expr(cond.rhs, right),
    )
    return tuple(getattr(reason, name) for name in _REASON_FIELDS)


@VERDICT.of(All, AnyOf)
def _combination_verdict(cond: All | AnyOf) -> Verdict:
    decisive = not isinstance(cond, All)
    items = tuple(VERDICT(item) for item in cond.items)

    def verdict(env: Env, describer: Describer | None) -> Outcome:
        if describer is None:
            # Values only: the first decisive item settles it (no reason to collect).
            pending: list[frozenset[str]] = []
            for item in items:
                outcome = item(env, None)
                if outcome.value is decisive:
                    return Outcome(decisive)
                if outcome.value is None:
                    pending.append(outcome.missing)
            if not pending:
                return Outcome(not decisive)
            return Outcome(None, frozenset().union(*pending))
        outcomes = [item(env, describer) for item in items]
        collected: list[Reason] = []
        for o in outcomes:
            collected += o.reasons
        reasons = tuple(collected)
        values = [o.value for o in outcomes]  # True, False or None: `in` finds them by identity
        if decisive in values:
            return Outcome(decisive, frozenset(), reasons)
        if None not in values:
            return Outcome(not decisive, frozenset(), reasons)
        missing = frozenset().union(*(o.missing for o in outcomes if o.value is None))
        return Outcome(None, missing, reasons)

    return verdict


@VERDICT.of(Not)
def _not_verdict(cond: Not) -> Verdict:
    item = VERDICT(cond.item)

    def verdict(env: Env, describer: Describer | None) -> Outcome:
        inner = item(env, describer)
        value = None if inner.value is None else not inner.value
        if describer is None:
            return Outcome(value, inner.missing)
        reasons = tuple(changed_reason(r, negated=not r.negated) for r in inner.reasons)
        return Outcome(value, inner.missing, reasons)

    return verdict


@VERDICT.of(Switch)
def _switch_verdict(cond: Switch) -> Verdict:
    fact = fact_reader(cond.fact)
    branches: dict[Any, Verdict] = {}
    for case, branch in cond.cases:
        branches.setdefault(case, VERDICT(branch))  # the first case of a key chooses
    default = VERDICT(cond.default if cond.default is not None else NEVER)

    def verdict(env: Env, describer: Describer | None) -> Outcome:
        key = fact(env)
        if isinstance(key, Unknown):
            # The branch cannot be chosen: unknown, naming what would choose it.
            reason = (
                Reason(
                    cond.fact,
                    None,
                    _unknown_switch_text(cond, describer),
                    None,
                    missing=tuple(sorted(key.missing)),
                )
                if describer
                else None
            )
            return Outcome(None, key.missing, (reason,) if reason else ())
        try:
            chosen = branches.get(key, default)
        except TypeError:  # an unhashable value is no case's key
            chosen = default
        return chosen(env, describer)

    return verdict


@VERDICT.of(Unencoded)
def _unencoded_verdict(cond: Unencoded) -> Verdict:
    missing = frozenset({cond.missing})
    bare = Outcome(None, missing)

    def verdict(env: Env, describer: Describer | None) -> Outcome:
        if describer is None:
            return bare
        text = describer.plain(cond.text.get(describer.lang)) if cond.text else describer.phrase("unencoded")
        return Outcome(None, missing, (Reason(cond.missing, None, text, None, missing=(cond.missing,)),))

    return verdict


def _unknown_switch_text(cond: Switch, d: Describer | None) -> str:
    if d is None:
        return ""
    return d.phrase("compare.unknown", subject=d.label(cond.fact))


_RANGES: dict[str, Condition] = {
    "born": Compare(id="child.born", lhs=FactRef("child.born"), op="eq", rhs=Literal(True)),
    "newborn": Compare(id="child.is_newborn", lhs=FactRef("child.is_newborn"), op="eq", rhs=Literal(True)),
}
NEVER = Const(False)

# Nodes are validated when built, so the conditions built while evaluating are built once.
_BODIES: dict[int, tuple[SomeChild, Condition]] = {}


def quantifier_range(cond: SomeChild) -> Condition:
    """The children a quantifier ranges over, as a condition in child scope."""
    return _RANGES[cond.range]


def quantifier_body(cond: SomeChild) -> Condition:
    cached = _BODIES.get(id(cond))
    if cached is not None and cached[0] is cond:
        return cached[1]
    body = All((quantifier_range(cond), cond.body))
    _BODIES[id(cond)] = (cond, body)
    return body


_NO_CHILDREN = frozenset({"children"})  # what a quantifier misses when the children are unknown


@VERDICT.of(SomeChild)
def _quantifier_verdict(cond: SomeChild) -> Verdict:
    body = VERDICT(quantifier_body(cond))
    # What its text quotes reads as the quantifier does.
    words = KeptText(cond.text, params_read(cond)) if cond.text else None

    def verdict(env: Env, describer: Describer | None) -> Outcome:
        return _evaluate_quantifier(cond, body, words, env, describer)

    return verdict


def _evaluate_quantifier(
    cond: SomeChild, body: Verdict, words: KeptText | None, env: Env, describer: Describer | None
) -> Outcome:
    if env.children is None:
        reason = None
        if describer is not None:
            reason = Reason(
                cond.id,
                None,
                _quantifier_text(cond, describer, None, [], env, words),
                None,
                missing=("children",),
            )
        return Outcome(None, _NO_CHILDREN, (reason,) if reason else ())
    per_child = [body(env.in_child(i), describer) for i in range(len(env.children))]
    witnesses = tuple(i for i, o in enumerate(per_child) if o.value is True)
    if witnesses:
        value: bool | None = True
        missing: frozenset[str] = frozenset()
    elif all(o.value is False for o in per_child):
        value, missing = False, frozenset()
    else:
        value = None
        missing = frozenset().union(*(o.missing for o in per_child if o.value is None))
    if describer is None:
        return Outcome(value, missing, (), witnesses)
    shown = [per_child[i] for i in witnesses] if witnesses else per_child
    detail = [
        r
        for o in shown
        for r in o.reasons
        if not r.criterion.endswith((".child.born", ".child.is_newborn")) or r.met is not True
    ]
    if len(env.children) > 1:
        # Several children: each child's criteria say which child they are about.
        detail = [
            changed_reason(r, describer.phrase("paren", text=r.text, detail=describer.child(env, r.child)))
            if r.child is not None
            else r
            for r in detail
        ]
    head = Reason(
        cond.id,
        value,
        _quantifier_text(cond, describer, value, witnesses, env, words),
        None,
        missing=tuple(sorted(missing)),
    )
    return Outcome(value, missing, (head, *detail), witnesses)


def _quantifier_text(
    cond: SomeChild, d: Describer, value: bool | None, witnesses, env: Env, words: KeptText | None
) -> str:
    what = words.render(env, d) if words is not None else d.phrase(f"quantifier.{cond.range}")
    if value is None:
        shown = d.phrase("unknown")
    elif value:
        shown = d.phrase("list_sep").join(d.child(env, i) for i in witnesses)
    else:
        shown = d.phrase("no_child")
    return d.phrase("compare.flag", subject=what, value=shown)


def text_of(text: Text | None, lang: str) -> str | None:
    return None if text is None else text.get(lang)


def as_of_for(profile: Profile, override: date | None, today: date | None = None) -> date:
    return override or profile.as_of or today or date.today()


VALUE.check_complete()
VERDICT.check_complete()
